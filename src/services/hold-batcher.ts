import { type AppError, gaveUp, tooManyRequests } from "../errors";
import type { CommitGuard } from "../lib/deadline";
import type { BuyerId } from "./buyers";
import type { IdempotencyRequest, Outcome } from "./idempotency";
import type { HoldView } from "./views";

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

export type ReserveBatch = (batch: HoldRequest[]) => Promise<HoldAnswer[]>;

type Waiting = HoldRequest & {
  resolve: (answer: HoldAnswer) => void;
  reject: (err: unknown) => void;
};

/**
 * Group reservation. On a hot product every hold contends for one row lock, so one
 * transaction per request caps throughput at the database's commit rate. Instead, per product,
 * the first request starts a transaction at once; requests that arrive while it runs wait and
 * are served together by the next one, up to `maxBatch`, each still all-or-nothing.
 * Correct across processes because every batch holds the product's row lock.
 */
export class HoldBatcher {
  private readonly queues = new Map<number, Waiting[]>();
  /** Requests per product not answered yet (queued or in a transaction), for the bound. */
  private readonly pending = new Map<number, number>();

  /**
   * `maxQueue` bounds the requests waiting per product: one more is refused at once with 429
   * `too_many_requests` (nothing done), so a storm cannot grow memory or latency without end.
   */
  constructor(
    private readonly maxBatch: number,
    private readonly reserve: ReserveBatch,
    private readonly maxQueue = Number.POSITIVE_INFINITY,
  ) {}

  submit(request: HoldRequest): Promise<HoldAnswer> {
    const { productId } = request;
    const pending = this.pending.get(productId) ?? 0;
    if (pending >= this.maxQueue) return Promise.resolve(tooManyRequests(this.maxQueue));
    this.pending.set(productId, pending + 1);
    return this.enqueue(request).finally(() => {
      const left = (this.pending.get(productId) ?? 1) - 1;
      if (left === 0) this.pending.delete(productId);
      else this.pending.set(productId, left);
    });
  }

  private enqueue(request: HoldRequest): Promise<HoldAnswer> {
    if (this.maxBatch === 1) return this.reserve([request]).then(firstAnswer);
    return new Promise((resolve, reject) => {
      const waiting = { ...request, resolve, reject };
      const queue = this.queues.get(request.productId);
      if (queue) {
        queue.push(waiting);
        return;
      }
      const fresh = [waiting];
      this.queues.set(request.productId, fresh);
      void this.drain(request.productId, fresh);
    });
  }

  private async drain(productId: number, queue: Waiting[]): Promise<void> {
    while (queue.length > 0) {
      const batch = this.takeBatch(queue);
      if (batch.length === 0) continue;
      try {
        const answers = await this.reserve(batch);
        for (const [i, waiting] of batch.entries()) waiting.resolve(answers[i] as HoldAnswer);
      } catch (err) {
        for (const waiting of batch) waiting.reject(err);
      }
    }
    this.queues.delete(productId);
  }

  /** The next requests in line; those whose client gave up while queued were answered 503. */
  private takeBatch(queue: Waiting[]): Waiting[] {
    const batch = queue.splice(0, this.maxBatch);
    const late = batch.filter((waiting) => waiting.deadline.abandoned);
    if (late.length === 0) return batch;
    for (const waiting of late) waiting.reject(gaveUp());
    return batch.filter((waiting) => !waiting.deadline.abandoned);
  }
}

function firstAnswer(answers: HoldAnswer[]): HoldAnswer {
  const [answer] = answers;
  if (!answer) throw new Error("reserve returned no answer");
  return answer;
}
