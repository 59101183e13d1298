/** What the alarm wakes: something that falls due at `at` (on `performance.now()`'s clock). */
export interface Timed {
  readonly at: number;
  due(): void;
}

/** A timed thing in the alarm's queue; `target` is dropped once it no longer needs waking. */
export type AlarmEntry = { at: number; target: Timed | undefined };

/**
 * Everything timed in one queue, ordered by when it falls due, behind a single timer
 * (docs/hot-path.md, rule 3). Deadlines mostly share one length, so an added one nearly always
 * goes last and a cleared one is nearly always at the front, where it leaves the queue at once.
 * The timer is moved only when an entry falls due before it, or stopped when none is left; one
 * left set for a cleared entry fires early and finds nothing due, which costs less than moving
 * it whenever the front of the queue changes (once per answer under load).
 */
class Alarm {
  private queue: AlarmEntry[] = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  add(target: Timed): AlarmEntry {
    const entry: AlarmEntry = { at: target.at, target };
    let i = this.queue.length;
    while (i > this.head && (this.queue[i - 1] as AlarmEntry).at > entry.at) i--;
    this.queue.splice(i, 0, entry);
    if (entry.at < this.timerAt) this.setTimer(entry.at);
    return entry;
  }

  remove(entry: AlarmEntry): void {
    entry.target = undefined;
    this.dropCleared();
  }

  private dropCleared(): void {
    while (this.head < this.queue.length && !(this.queue[this.head] as AlarmEntry).target) {
      this.head++;
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      // Nothing left to watch: no timer keeps an idle process alive.
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private setTimer(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, at - performance.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    while (this.head < this.queue.length && (this.queue[this.head] as AlarmEntry).at <= now) {
      const entry = this.queue[this.head++] as AlarmEntry;
      const { target } = entry;
      entry.target = undefined;
      target?.due();
    }
    this.dropCleared();
    const first = this.queue[this.head];
    if (first) this.setTimer(first.at);
  }
}

/** The process's one alarm. */
export const alarm = new Alarm();
