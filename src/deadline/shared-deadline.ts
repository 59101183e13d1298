import { type AlarmEntry, alarm } from "./alarm";
import { AbandonListeners, type CommitGuard } from "./deadline";

/** A caller behind a shared deadline: its own deadline, and whether it left for passing it. */
export type Member = { deadline: CommitGuard; left?: boolean };

/** Whether a member is no longer waited for: it left, or its own deadline gave it up. */
export const gone = (member: Member): boolean => member.left === true || member.deadline.abandoned;

/**
 * Callers waiting together (a product's line of hold requests) behind one timer rather than
 * one each (docs/hot-path.md, rule 3): it falls due at the earliest deadline of those still
 * there; each member whose own deadline has passed then leaves (`leave` answers it) and the
 * timer is set for the next. Members are read, never armed.
 */
export class SharedDeadline<M extends Member> {
  private entry: AlarmEntry | undefined;

  constructor(
    protected readonly members: M[],
    private readonly leave: (member: M) => void,
  ) {}

  /** A member joined (or the timer is needed again): set for its deadline if that is sooner. */
  watch(member: M): void {
    const { at } = member.deadline;
    if (this.entry === undefined || at < this.entry.at) this.setFor(at);
  }

  /** Sets the timer for the earliest deadline of the members still there, or stops it. */
  rearm(): void {
    let first = Number.POSITIVE_INFINITY;
    for (const member of this.members) {
      if (!gone(member) && member.deadline.at < first) first = member.deadline.at;
    }
    if (first === Number.POSITIVE_INFINITY) this.stop();
    else this.setFor(first);
  }

  stop(): void {
    if (this.entry !== undefined) alarm.remove(this.entry);
    this.entry = undefined;
  }

  /**
   * Each member whose deadline has passed leaves, and the line no longer holds it (a stalled
   * line keeps no more than its live members); the timer is set for the next.
   */
  protected expire(): void {
    this.leaveDue();
    let kept = 0;
    for (const member of this.members) if (!member.left) this.members[kept++] = member;
    this.members.length = kept;
    this.rearm();
  }

  /** Each member whose deadline has passed leaves. */
  protected leaveDue(): void {
    const now = performance.now();
    for (const member of this.members) {
      if (!member.left && (member.deadline.abandoned || member.deadline.at <= now)) {
        member.left = true;
        this.leave(member);
      }
    }
  }

  private setFor(at: number): void {
    this.stop();
    const entry = alarm.add({
      at,
      due: () => {
        if (this.entry === entry) this.entry = undefined;
        this.expire();
      },
    });
    this.entry = entry;
  }
}

/**
 * A batch's guard over its members (hold requests served by one transaction): members leave at
 * their own deadlines behind the batch's one timer; the transaction is cut off when every
 * member has left, and commits only while none has, so that no member answered 503 sees its
 * work committed (the batch is then run again without them). While COMMIT is under way nobody
 * leaves: every member waits for the real outcome.
 */
export class BatchDeadline<M extends Member> extends SharedDeadline<M> implements CommitGuard {
  private committing = false;
  private readonly listeners = new AbandonListeners();

  constructor(members: M[], leave: (member: M) => void) {
    super(members, leave);
    this.rearm();
  }

  get abandoned(): boolean {
    return this.members.every(gone);
  }

  /** The last member's deadline: the batch is waited for until then. */
  get at(): number {
    let last = Number.NEGATIVE_INFINITY;
    for (const member of this.members) last = Math.max(last, member.deadline.at);
    return last;
  }

  /** Armed when made: a batch is made to be waited for. */
  arm(): void {
    if (!this.committing) this.rearm();
  }

  remainingMs(): number {
    return this.at - performance.now();
  }

  beginCommit(): boolean {
    if (this.members.some(gone)) return false;
    this.committing = true;
    this.stop();
    for (const member of this.members) member.deadline.beginCommit();
    return true;
  }

  commitFailed(): void {
    if (!this.committing) return;
    this.committing = false;
    for (const member of this.members) member.deadline.commitFailed();
    this.expire();
  }

  onAbandon(listener: () => void): () => void {
    return this.listeners.add(listener, this.abandoned);
  }

  /** Members leave as in a line, but stay in the batch, which answers by place. */
  protected override expire(): void {
    if (this.committing) return;
    this.leaveDue();
    this.rearm();
    if (this.abandoned) this.listeners.fire();
  }
}
