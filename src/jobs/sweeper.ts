import { Cron } from "croner";
import type { Deps } from "../deps";
import { expireHolds } from "../services/holds";
import { purgeExpiredKeys } from "../services/idempotency";
import { cancelUnpaidOrders } from "../services/orders";

/** Batches per tick at most, so one tick never runs long enough to overlap the next many times. */
const MAX_BATCHES = 20;

async function drain(step: (limit: number) => Promise<number>, limit: number): Promise<number> {
  let total = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const done = await step(limit);
    total += done;
    if (done < limit) break;
  }
  return total;
}

/**
 * Returns expired holds' units, cancels orders past the payment timeout and purges old
 * idempotency keys. Every process runs it; SKIP LOCKED makes them share rather than collide.
 */
export function startSweeper(deps: Deps): Cron {
  const limit = deps.config.SWEEPER_BATCH_SIZE;
  return new Cron(
    deps.config.SWEEPER_CRON,
    {
      name: "sweeper",
      protect: true,
      catch: (err) => deps.logger.error({ err }, "sweeper run failed"),
    },
    async () => {
      const expired = await drain((n) => expireHolds(deps, n), limit);
      const cancelled = await drain((n) => cancelUnpaidOrders(deps, n), limit);
      const purged = await drain((n) => purgeExpiredKeys(deps.db, n), limit);
      if (expired + cancelled + purged > 0) {
        deps.logger.debug({ expired, cancelled, purged }, "sweeper run");
      }
    },
  );
}
