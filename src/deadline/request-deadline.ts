import { type CommitGuard, Deadline } from "./deadline";

/**
 * One request's deadline: a guard that makes the real one when armed, asked how long is left or
 * listened to, so a request answered without the database (or a hold, which its line and batch
 * watch) never makes one (docs/hot-path.md, rule 3). The request's bindings extend it, so a
 * request allocates one object.
 */
export class RequestDeadline implements CommitGuard {
  /** The deadline made so far, if any, to clear once the answer is out. */
  made: Deadline | undefined;
  /** Set while `answerWithin` waits for the handler: races the answer against the deadline. */
  watch: ((deadline: Deadline) => void) | undefined;

  constructor(
    /** `performance.now()` when the request arrived: the deadline counts from there. */
    readonly started: number,
    private readonly deadlineMs: number,
  ) {}

  /** The real deadline, made and (while the answer is awaited) raced on first use. */
  private armed(): Deadline {
    if (this.made === undefined) {
      this.made = Deadline.after(this.deadlineMs - (performance.now() - this.started));
      this.watch?.(this.made);
    }
    return this.made;
  }

  /** Not yet armed, it cannot have been given up on. */
  get abandoned(): boolean {
    return this.made?.abandoned ?? false;
  }

  get at(): number {
    return this.started + this.deadlineMs;
  }

  arm(): void {
    this.armed();
  }

  remainingMs(): number {
    return this.armed().remainingMs();
  }

  /**
   * Not yet armed, nothing races the answer, so nothing can give it up while it commits: a
   * request that others wait for (a hold in a batch, docs/hot-path.md rule 3) stays unarmed.
   */
  beginCommit(): boolean {
    return this.made?.beginCommit() ?? true;
  }

  commitFailed(): void {
    this.made?.commitFailed();
  }

  onAbandon(listener: () => void): () => void {
    return this.armed().onAbandon(listener);
  }
}

/**
 * The handler's answer, or `expired` once a deadline the request made passes with nothing
 * committing; whichever comes first goes through `finish` and is the one sent. The 503 is sent
 * only when the deadline could abandon the request's work (nothing committed, nothing will); a
 * request whose COMMIT is under way is answered with its real outcome.
 */
export function answerWithin(
  deadline: RequestDeadline,
  pending: Promise<Response>,
  expired: () => Response,
  finish: (response: Response) => Response,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    let done = false;
    let stopWaiting: (() => void) | undefined;
    const stop = (): boolean => {
      if (done) return false;
      done = true;
      deadline.watch = undefined;
      stopWaiting?.();
      deadline.made?.clear();
      return true;
    };
    const settle = (response: Response) => {
      if (stop()) resolve(finish(response));
    };
    deadline.watch = (made) => {
      stopWaiting = made.onAbandon(() => settle(expired()));
      made.arm();
    };
    const { made } = deadline;
    if (made !== undefined) deadline.watch(made);
    pending.then(settle, (err: unknown) => {
      if (stop()) reject(err);
    });
  });
}
