import type { Config } from "../../config";
import type { Deps } from "../../deps-type";
import { joinBatch } from "./join";
import { JoinBatcher } from "./join-batcher";

// The waiting room: line.ts is admission as a pure function of a line's row and the database's
// clock; locked.ts what changes a line under its lock (rebase, draw, written admissions);
// join-batcher.ts and join.ts the batched joins; read.ts the ticket read; tickets.ts the
// ticket's view; settings.ts the operator's changes; admission.ts the hold's check; admit.ts
// the job's work (admissions written, the draw when no request ran it, the metrics).

export type { JoinAnswer, Joined } from "./join-batcher";
export { getTicket, peekTicket, type TicketAnswer } from "./read";

/** The per-process join batcher, batches as large as the hold pipeline's. */
export function createJoinBatcher(config: Config, deps: () => Deps): JoinBatcher {
  return new JoinBatcher(config.HOLD_BATCH_MAX, (batch) => joinBatch(deps(), batch));
}

/** The buyer's ticket: joins the line, or finds the live ticket the buyer has. */
export function joinQueue(deps: Deps, request: Parameters<JoinBatcher["submit"]>[0]) {
  return deps.joinBatcher.submit(request);
}
