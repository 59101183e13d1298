import { Cron } from "croner";
import { purgeProofs } from "../db/purge";
import { commitProofs, holdBatches } from "../db/schema";
import { Deadline } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import { expireHolds } from "../services/holds/expire";
import { purgeExpiredKeys } from "../services/idempotency";
import { purgeDeliveredEvents, purgeUnsentEvents } from "../services/merchant-events";
import { cancelUnpaidOrders } from "../services/orders";
import { applyStrandedEvents, purgeDeferredEvents } from "../services/payments";
import { logJobFailure } from "./failures";

/** Batches per tick at most, so one tick never runs long enough to overlap the next many times. */
const MAX_BATCHES = 20;

type Step = (limit: number, deadline: Deadline) => Promise<number>;

/** Runs a step in batches until one finds less than a full batch, each bounded like a request. */
async function inBatches(step: Step, limit: number, timeoutMs: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const deadline = Deadline.start(timeoutMs);
    try {
      const done = await step(limit, deadline);
      total += done;
      if (done < limit) break;
    } finally {
      deadline.clear();
    }
  }
  return total;
}

/**
 * Returns expired holds' units, cancels orders past the payment timeout, purges old idempotency
 * keys, hold batch rows, commit proofs and merchant events past their retention (delivered, or
 * in a process without a URL never sent), applies payment events stranded beside their orders
 * (a Galera cluster's race) and purges deferred events whose order never appeared. Every process runs it; SKIP LOCKED makes them
 * share rather than collide.
 */
export function startSweeper(deps: Deps): Cron {
  const limit = deps.config.SWEEPER_BATCH_SIZE;
  return new Cron(
    deps.config.SWEEPER_CRON,
    {
      name: "sweeper",
      protect: true,
      catch: (err) => logJobFailure(deps, "sweeper", err),
    },
    async () => {
      const timeout = deps.config.REQUEST_TIMEOUT_MS;
      let lag: number | undefined;
      const expired = await inBatches(
        (n, d) => expireHolds(deps, n, d, (seconds) => (lag = Math.max(lag ?? 0, seconds))),
        limit,
        timeout,
      );
      const cancelled = await inBatches((n, d) => cancelUnpaidOrders(deps, n, d), limit, timeout);
      const purged = await inBatches((n, d) => purgeExpiredKeys(deps, n, d), limit, timeout);
      await inBatches((n, d) => purgeProofs(deps, holdBatches, n, d), limit, timeout);
      await inBatches((n, d) => purgeProofs(deps, commitProofs, n, d), limit, timeout);
      await inBatches((n, d) => applyStrandedEvents(deps, n, d), limit, timeout);
      await inBatches((n, d) => purgeDeliveredEvents(deps, n, d), limit, timeout);
      if (!deps.config.MERCHANT_WEBHOOK_URL) {
        await inBatches((n, d) => purgeUnsentEvents(deps, n, d), limit, timeout);
      }
      await inBatches((n, d) => purgeDeferredEvents(deps, n, d), limit, timeout);
      deps.metrics.sweeperRuns.inc();
      if (lag !== undefined) deps.metrics.sweeperLag.observe(lag);
      if (expired + cancelled + purged > 0) {
        deps.logger.debug({ expired, cancelled, purged }, "sweeper run");
      }
    },
  );
}
