import { setTimeout as sleep } from "node:timers/promises";
import { Deadline } from "../deadline/deadline";
import type { Pool, Tx } from "./client";
import { withConnection } from "./connection";
import { Abandoned, PoolExhausted, transientReason } from "./errors";
import type { DatabaseHealth } from "./health";

// A COMMIT whose answer was lost: what the database says became of it.

/** How often a lost COMMIT's outcome is asked for while the database is away. */
const OUTCOME_RETRY_MS = 200;
/** How long one of those questions may take when the caller does not say. */
const OUTCOME_ATTEMPT_MS = 1000;

/**
 * Asks the database, on fresh connections, whether a transaction whose COMMIT lost its answer
 * took effect (`check`: false if not), and keeps asking for as long as the database cannot be
 * reached: a 503 then might hide a committed change, so the callers wait for the real outcome,
 * past their deadline, as for any commit under way. Each attempt is cut off after
 * `outcomeWaitMs`, as a hung database would otherwise keep it forever. Null when the check
 * itself fails for another reason.
 */
export async function outcomeOf<R>(
  pool: Pool,
  check: (db: Tx) => Promise<R | false>,
  options: { outcomeWaitMs?: number; health?: DatabaseHealth },
): Promise<R | false | null> {
  for (;;) {
    const attempt = Deadline.start(options.outcomeWaitMs ?? OUTCOME_ATTEMPT_MS);
    try {
      return await withConnection(pool, check, { guard: attempt, health: options.health });
    } catch (err) {
      if (!(transientReason(err) || err instanceof Abandoned || err instanceof PoolExhausted)) {
        return null;
      }
      await sleep(Math.min(OUTCOME_RETRY_MS, Math.max(0, attempt.remainingMs())));
    } finally {
      attempt.clear();
    }
  }
}
