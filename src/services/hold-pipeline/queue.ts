import type { CommitGuard } from "../../deadline/deadline";
import { type AppError, gaveUp, tooManyRequests } from "../../errors";
import type { BuyerId } from "../buyers";
import type { IdempotencyRequest, Outcome } from "../idempotency";
import type { HoldView } from "../views";

export type HoldRequest = {
  productId: number;
  qty: number;
  buyer: BuyerId;
  idem?: IdempotencyRequest;
  /** The client's deadline: a request it passed is never served. */
  deadline: CommitGuard;
};

/** One answer per request of a batch, in the batch's order: an outcome or a domain error. */
export type HoldAnswer = Outcome<HoldView> | AppError;

/** Serves a batch; calls `locked` once the batch holds its product's row lock. */
export type ReserveBatch = (batch: HoldRequest[], locked: () => void) => Promise<HoldAnswer[]>;

type Waiting = HoldRequest & {
  resolve: (answer: HoldAnswer) => void;
  reject: (err: unknown) => void;
};

/**
 * One product's line: the requests waiting, how many transactions serve it now, and the turn
 * the next batch waits for (the batch before it holding the row lock).
 */
type Line = { waiting: Waiting[]; running: number; turn: Promise<void> };

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

  /** The request's answer; a full line's 429 comes back at once (docs/hot-path.md, rule 1). */
  submit(request: HoldRequest): AppError | Promise<HoldAnswer> {
    const { productId } = request;
    // A queued request must be answered 503 when its deadline passes: armed before it waits.
    request.deadline.arm();
    if (request.deadline.abandoned) return Promise.reject(gaveUp());
    const pending = this.pending.get(productId) ?? 0;
    if (pending >= this.maxQueue) return this.full;
    this.pending.set(productId, pending + 1);
    if (this.maxBatch === 1) {
      return this.reserve([request], () => undefined).then(
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
        line = { waiting: [], running: 0, turn: Promise.resolve() };
        this.lines.set(productId, line);
      }
      line.waiting.push({ ...request, resolve, reject });
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

  /** One request of the product's answered: it no longer counts against the bound. */
  private answered(productId: number): void {
    const left = (this.pending.get(productId) ?? 1) - 1;
    if (left === 0) this.pending.delete(productId);
    else this.pending.set(productId, left);
  }

  private async drain(productId: number, line: Line): Promise<void> {
    for (;;) {
      await nextTurn(line);
      const batch = this.takeBatch(line.waiting);
      if (line.waiting.length === 0 && batch.length === 0) break;
      if (batch.length === 0) continue;
      let locked: () => void = () => undefined;
      line.turn = new Promise<void>((resolve) => {
        locked = resolve;
      });
      try {
        const answers = await this.reserve(batch, locked);
        for (const [i, waiting] of batch.entries()) {
          this.answered(productId);
          waiting.resolve(answers[i] as HoldAnswer);
        }
      } catch (err) {
        for (const waiting of batch) {
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

  /** The next requests in line; those whose client gave up while queued were answered 503. */
  private takeBatch(queue: Waiting[]): Waiting[] {
    const batch = queue.splice(0, this.maxBatch);
    const late = batch.filter((waiting) => waiting.deadline.abandoned);
    if (late.length === 0) return batch;
    for (const waiting of late) {
      this.answered(waiting.productId);
      waiting.reject(gaveUp());
    }
    return batch.filter((waiting) => !waiting.deadline.abandoned);
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
