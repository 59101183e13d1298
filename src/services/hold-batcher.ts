import { type AppError, serviceUnavailable } from "../errors";
import type { IdempotencyRequest, Outcome } from "./idempotency";
import type { HoldView } from "./views";

export type HoldRequest = {
  productId: number;
  qty: number;
  idem?: IdempotencyRequest;
};

/** One answer per request of a batch, in the batch's order: an outcome or a domain error. */
export type HoldAnswer = Outcome<HoldView> | AppError;

export type ReserveBatch = (batch: HoldRequest[]) => Promise<HoldAnswer[]>;

type Waiting = HoldRequest & {
  enqueuedAt: number;
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

  /**
   * `maxWaitMs` is the request deadline: a request still queued past it has already been
   * answered 503, so it is dropped instead of reserving units its client will never use.
   */
  constructor(
    private readonly maxBatch: number,
    private readonly reserve: ReserveBatch,
    private readonly maxWaitMs = Number.POSITIVE_INFINITY,
  ) {}

  submit(request: HoldRequest): Promise<HoldAnswer> {
    if (this.maxBatch === 1) return this.reserve([request]).then(firstAnswer);
    return new Promise((resolve, reject) => {
      const waiting = { ...request, enqueuedAt: performance.now(), resolve, reject };
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

  private takeBatch(queue: Waiting[]): Waiting[] {
    const batch = queue.splice(0, this.maxBatch);
    const cutoff = performance.now() - this.maxWaitMs;
    const late = batch.filter((waiting) => waiting.enqueuedAt < cutoff);
    if (late.length === 0) return batch;
    const expired = serviceUnavailable("The request waited too long for its turn; retry shortly.");
    for (const waiting of late) waiting.reject(expired);
    return batch.filter((waiting) => waiting.enqueuedAt >= cutoff);
  }
}

function firstAnswer(answers: HoldAnswer[]): HoldAnswer {
  const [answer] = answers;
  if (!answer) throw new Error("reserve returned no answer");
  return answer;
}
