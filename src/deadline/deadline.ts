import { type AlarmEntry, alarm, type Timed } from "./alarm";

/**
 * What a transaction needs to know about the callers waiting for it: whether they still want
 * the outcome. The contract promises that a 5xx changed nothing, so a caller may be answered
 * 503 only while its work can still be rolled back; once COMMIT is on its way the caller waits
 * for the real outcome instead. A request's guard starts racing its answer when armed, asked how
 * long is left or listened to (see `request-deadline.ts`); reading `abandoned` or `at` never
 * starts it.
 */
export interface CommitGuard {
  /** Every caller gave up: the work is cut off and rolled back. */
  readonly abandoned: boolean;
  /** When the callers give up, on `performance.now()`'s clock; reading it arms nothing. */
  readonly at: number;
  /** Starts the clock: a caller about to wait (in a line, on the database) arms it first. */
  arm(): void;
  /** Milliseconds left before the callers give up. */
  remainingMs(): number;
  /** Called synchronously right before COMMIT is sent; false means roll back instead. */
  beginCommit(): boolean;
  /** COMMIT failed and the transaction was rolled back: callers may be given up on again. */
  commitFailed(): void;
  /** Runs `listener` once, when every caller has given up; returns an unsubscribe. */
  onAbandon(listener: () => void): () => void;
}

type State = "open" | "committing" | "abandoned";

/** Who listens for a guard to be abandoned: each listener runs once, then or at once. */
export class AbandonListeners {
  private listeners: (() => void)[] = [];

  /** Adds `listener`, or runs it at once if the guard is `abandoned`; returns an unsubscribe. */
  add(listener: () => void, abandoned: boolean): () => void {
    if (abandoned) {
      listener();
      return () => undefined;
    }
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at !== -1) this.listeners.splice(at, 1);
    };
  }

  /** The guard was abandoned: every listener runs, and none again. */
  fire(): void {
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }
}

/**
 * One request's deadline. At the deadline it abandons itself unless its commit is under way;
 * whoever answers the client listens with `onAbandon` and sends the 503 then.
 */
export class Deadline implements CommitGuard, Timed {
  private state: State = "open";
  private readonly listeners = new AbandonListeners();
  private alarmEntry: AlarmEntry | undefined;

  private constructor(readonly at: number) {}

  /** A deadline `ms` from now; it acts only once armed. */
  static after(ms: number): Deadline {
    return new Deadline(performance.now() + ms);
  }

  /** A deadline `ms` from now that abandons itself when it passes. */
  static start(ms: number): Deadline {
    return Deadline.after(ms).arm();
  }

  /**
   * Starts the timer. Separate from construction so that a request answered synchronously (a
   * cached read) never pays for one.
   */
  arm(): this {
    if (this.alarmEntry === undefined && this.state === "open") this.alarmEntry = alarm.add(this);
    return this;
  }

  get abandoned(): boolean {
    return this.state === "abandoned";
  }

  remainingMs(): number {
    return this.at - performance.now();
  }

  due(): void {
    this.alarmEntry = undefined;
    this.abandon();
  }

  /** Gives up on the outcome; refused (false) while a commit is under way or done. */
  abandon(): boolean {
    if (this.state === "committing") return false;
    if (this.state === "abandoned") return true;
    this.state = "abandoned";
    this.clear();
    this.listeners.fire();
    return true;
  }

  beginCommit(): boolean {
    if (this.state === "abandoned") return false;
    this.state = "committing";
    return true;
  }

  commitFailed(): void {
    if (this.state !== "committing") return;
    this.state = "open";
    if (this.remainingMs() <= 0) this.abandon();
  }

  onAbandon(listener: () => void): () => void {
    return this.listeners.add(listener, this.state === "abandoned");
  }

  /** The answer is out: no timer left behind. */
  clear(): void {
    if (this.alarmEntry !== undefined) alarm.remove(this.alarmEntry);
    this.alarmEntry = undefined;
  }
}

/**
 * Several callers served by one transaction (a hold batch): it is abandoned only when all of
 * them are, and it commits only while none is, so that no caller answered 503 sees its work
 * committed. A batch refused at commit is run again without the callers who left.
 */
export function allOf(guards: CommitGuard[]): CommitGuard {
  return {
    get abandoned() {
      return guards.every((g) => g.abandoned);
    },
    get at() {
      let last = Number.NEGATIVE_INFINITY;
      for (const guard of guards) last = Math.max(last, guard.at);
      return last;
    },
    arm: () => {
      for (const guard of guards) guard.arm();
    },
    remainingMs: () => {
      let most = Number.NEGATIVE_INFINITY;
      for (const guard of guards) most = Math.max(most, guard.remainingMs());
      return most;
    },
    beginCommit: () => {
      if (guards.some((g) => g.abandoned)) return false;
      for (const guard of guards) guard.beginCommit();
      return true;
    },
    commitFailed: () => {
      for (const guard of guards) guard.commitFailed();
    },
    onAbandon: (listener) => {
      let left = guards.filter((g) => !g.abandoned).length;
      if (left === 0) {
        listener();
        return () => undefined;
      }
      const unsubscribe = guards.map((g) =>
        g.abandoned
          ? () => undefined
          : g.onAbandon(() => {
              left--;
              if (left === 0) listener();
            }),
      );
      return () => {
        for (const u of unsubscribe) u();
      };
    },
  };
}
