import type { CommitGuard } from "../../deadline/deadline";
import { gone, SharedDeadline } from "../../deadline/shared-deadline";
import { type AppError, gaveUp, tooManyRequests } from "../../errors";
import type { BuyerId } from "../buyers";
import type { IdempotencyRequest, Outcome } from "../idempotency";
import type { HoldView } from "../views";

export type HoldRequest = {
  productId: number;
  qty: number;
  buyer: BuyerId;
  idem?: IdempotencyRequest;
  /** The client's deadline: a request it passed is never served. Read, never armed. */
  deadline: CommitGuard;
  /** Set when the pipeline answered it 503 at its deadline (see shared-deadline.ts). */
  left?: boolean;
};

/** One answer per request of a batch, in the batch's order: an outcome or a domain error. */
export type HoldAnswer = Outcome<HoldView> | AppError;

/**
 * Serves a batch; calls `locked` once the batch holds its product's row lock, and `leave` for
 * each request it gives up on at the request's deadline, before the batch is answered.
 */
export type ReserveBatch = (
  batch: HoldRequest[],
  locked: () => void,
  leave: (request: HoldRequest) => void,
) => Promise<HoldAnswer[]>;

type Waiting = HoldRequest & {
  resolve: (answer: HoldAnswer) => void;
  reject: (err: unknown) => void;
};

/**
 * One product's line: the requests waiting and the one timer that answers them 503 at their
 * deadlines, how many transactions serve it now, and the turn the next batch waits for (the
 * batch before it holding the row lock).
 */
type Line = {
  waiting: Waiting[];
  deadline: SharedDeadline<Waiting>;
  running: number;
  turn: Promise<void>;
};

/**
 * Group reservation. On a hot product every hold contends for one row lock, so one
 * transaction per request caps throughput at the database's commit rate. Instead, per product,
 * the first request starts a transaction at once; requests that arrive while it runs wait and
 * are served together by the next one, up to `maxBatch`, each still all-or-nothing.
 * Correct across processes because every batch holds the product's row lock.
 *
 * Two transactions per product run at once: while one writes and commits, the next has its
 * connection, BEGIN and locking read on the wire and waits on the row lock in the database, so
 * the lock is taken again the moment it is freed instead of a few event-loop turns later. A
 * batch is taken only once the batch before it holds the lock, so batches lock in the order
 * their requests arrived.
 */
export class HoldBatcher {
  private readonly lines = new Map<number, Line>();
  /** Requests per product not answered yet (queued or in a transaction), for the bound. */
  private readonly pending = new Map<number, number>();
  private readonly full: AppError;

  /**
   * `maxQueue` bounds the requests waiting per product: one more is refused at once with 429
   * `too_many_requests` (nothing done), so a storm cannot grow memory or latency without end.
   */
  constructor(
    private readonly maxBatch: number,
    private readonly reserve: ReserveBatch,
    private readonly maxQueue = Number.POSITIVE_INFINITY,
    private readonly inFlight = 2,
  ) {
    this.full = tooManyRequests(maxQueue);
  }

  /**
   * The request's answer; a full line's 429 comes back at once (docs/hot-path.md, rule 1). Its
   * deadline is checked here and then watched by its line's and its batch's one timer (rule 3).
   */
  submit(request: HoldRequest): AppError | Promise<HoldAnswer> {
    const { productId } = request;
    if (gone(request) || request.deadline.at <= performance.now()) {
      return Promise.reject(gaveUp());
    }
    const pending = this.pending.get(productId) ?? 0;
    if (pending >= this.maxQueue) return this.full;
    this.pending.set(productId, pending + 1);
    if (this.maxBatch === 1) {
      // A batch of one is answered by its transaction, which gives it up at its deadline.
      return this.reserve([request], ignore, ignore).then(
        (answers) => {
          this.answered(productId);
          return firstAnswer(answers);
        },
        (err: unknown) => {
          this.answered(productId);
          throw err;
        },
      );
    }
    return new Promise((resolve, reject) => {
      let line = this.lines.get(productId);
      if (!line) {
        const waiting: Waiting[] = [];
        const deadline = new SharedDeadline(waiting, this.leave);
        line = { waiting, deadline, running: 0, turn: Promise.resolve() };
        this.lines.set(productId, line);
      }
      const joining: Waiting = { ...request, resolve, reject };
      line.waiting.push(joining);
      line.deadline.watch(joining);
      if (line.running < this.inFlight) {
        line.running++;
        void this.drain(productId, line);
      }
    });
  }

  /** Requests not answered yet per product with any (the metrics' queue depth). */
  depths(): Iterable<[number, number]> {
    return this.pending.entries();
  }

  /** A request given up on at its deadline, in line or in its batch: answered 503 now. */
  private readonly leave = (request: HoldRequest): void => {
    this.answered(request.productId);
    // Every request a batch of this queue holds is one of its Waiting.
    (request as Waiting).reject(gaveUp());
  };

  /** One request of the product's answered: it no longer counts against the bound. */
  private answered(productId: number): void {
    const left = (this.pending.get(productId) ?? 1) - 1;
    if (left === 0) this.pending.delete(productId);
    else this.pending.set(productId, left);
  }

  private async drain(productId: number, line: Line): Promise<void> {
    for (;;) {
      await nextTurn(line);
      const batch = this.takeBatch(line);
      if (line.waiting.length === 0 && batch.length === 0) break;
      if (batch.length === 0) continue;
      let locked: () => void = () => undefined;
      line.turn = new Promise<void>((resolve) => {
        locked = resolve;
      });
      try {
        const answers = await this.reserve(batch, locked, this.leave);
        for (const [i, waiting] of batch.entries()) {
          if (waiting.left) continue;
          this.answered(productId);
          waiting.resolve(answers[i] as HoldAnswer);
        }
      } catch (err) {
        for (const waiting of batch) {
          if (waiting.left) continue;
          this.answered(productId);
          waiting.reject(err);
        }
      } finally {
        locked();
      }
    }
    line.running--;
    if (line.running === 0) this.lines.delete(productId);
  }

  /**
   * The next requests in line, their deadlines watched by their batch from here on; those whose
   * client gave up while queued were answered 503.
   */
  private takeBatch(line: Line): Waiting[] {
    const batch = line.waiting.splice(0, this.maxBatch);
    if (line.waiting.length === 0) line.deadline.stop();
    if (!batch.some(gone)) return batch;
    for (const waiting of batch) {
      if (waiting.left || !waiting.deadline.abandoned) continue;
      this.answered(waiting.productId);
      waiting.reject(gaveUp());
    }
    return batch.filter((waiting) => !gone(waiting));
  }
}

/** Waits until the batch before holds its lock and no other batch has been taken since. */
async function nextTurn(line: Line): Promise<void> {
  let turn: Promise<void>;
  do {
    turn = line.turn;
    await turn;
  } while (turn !== line.turn);
}

function firstAnswer(answers: HoldAnswer[]): HoldAnswer {
  const [answer] = answers;
  if (!answer) throw new Error("reserve returned no answer");
  return answer;
}

const ignore = (): void => undefined;
