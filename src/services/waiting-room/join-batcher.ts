import type { CommitGuard } from "../../deadline/deadline";
import { type AppError, gaveUp } from "../../errors";
import type { BuyerId } from "../buyers";
import type { TicketView } from "./tickets";

// A storm of joins is served like a storm of holds: per product, the requests that arrive
// while a transaction runs wait and are served together by the next one (join.ts), which
// locks the line's row once and gives the whole batch its positions in one INSERT.

export type JoinRequest = { productId: number; buyer: BuyerId; deadline: CommitGuard };

/** A ticket given (`created`) or found live, with a waiting one's Retry-After. */
export type Joined = { created: boolean; view: TicketView; retryAfter?: number };
export type JoinAnswer = Joined | AppError;

type Waiting = JoinRequest & {
  resolve: (answer: JoinAnswer) => void;
  reject: (err: unknown) => void;
};

/** Per product: the joins waiting, and whether a transaction serves the product now. */
export class JoinBatcher {
  private readonly lines = new Map<number, { waiting: Waiting[]; running: boolean }>();

  constructor(
    private readonly maxBatch: number,
    private readonly serve: (batch: JoinRequest[]) => Promise<JoinAnswer[]>,
  ) {}

  submit(request: JoinRequest): Promise<JoinAnswer> {
    if (request.deadline.abandoned) return Promise.reject(gaveUp());
    return new Promise((resolve, reject) => {
      let line = this.lines.get(request.productId);
      if (!line) {
        line = { waiting: [], running: false };
        this.lines.set(request.productId, line);
      }
      line.waiting.push({ ...request, resolve, reject });
      if (!line.running) {
        line.running = true;
        void this.drain(request.productId, line);
      }
    });
  }

  private async drain(productId: number, line: { waiting: Waiting[]; running: boolean }) {
    while (line.waiting.length > 0) {
      const batch = line.waiting.splice(0, this.maxBatch);
      try {
        const answers = await this.serve(batch);
        for (const [i, waiting] of batch.entries()) waiting.resolve(answers[i] as JoinAnswer);
      } catch (err) {
        for (const waiting of batch) waiting.reject(err);
      }
    }
    line.running = false;
    this.lines.delete(productId);
  }
}
