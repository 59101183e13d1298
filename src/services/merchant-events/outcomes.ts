import { randomBytes } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import { merchantEvents } from "../../db/schema";
import { query } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { type ClaimedEvent, releaseIds } from "./due";

// What became of each delivery, recorded under the lease it was sent with.

export type DeliveryResult = "delivered" | "retry" | "failed" | "lease_lost";

const leaseHeld = (event: ClaimedEvent) =>
  and(eq(merchantEvents.id, event.id), sql`${merchantEvents.leaseToken} = ${event.leaseToken}`);

/**
 * Records events delivered, in one statement for however many ended since the last record (a
 * commit per event would cost the database as much as the sends). Only events this process
 * still holds the lease of are recorded: the others are left to whoever took them since. The
 * rows recorded get a mark of this call; when the UPDATE did not move them all, the ones it
 * moved are read back by that mark. The ids recorded.
 */
export async function recordDeliveries(
  deps: Deps,
  events: ClaimedEvent[],
  deadline: CommitGuard,
): Promise<Set<number>> {
  const mark = randomBytes(16);
  const tokens = [...new Set(events.map((event) => event.leaseToken))];
  const ids = events.map((event) => event.id);
  const ours = sql`${merchantEvents.leaseToken} IN (${sql.join(
    tokens.map((token) => sql`${token}`),
    sql`, `,
  )})`;
  return query(deps, deadline, async (db) => {
    const [result] = await db
      .update(merchantEvents)
      .set({
        deliveryStatus: "delivered",
        deliveredAt: sql`NOW(3)`,
        lastError: null,
        leaseUntil: null,
        leaseToken: sql`${mark}`,
      })
      .where(and(inArray(merchantEvents.id, ids), ours));
    if (result.affectedRows === ids.length) return new Set(ids);
    const recorded = await db
      .select({ id: merchantEvents.id })
      .from(merchantEvents)
      .where(and(inArray(merchantEvents.id, ids), sql`${merchantEvents.leaseToken} = ${mark}`));
    return new Set(recorded.map((row) => row.id));
  });
}

/**
 * Records a failed attempt, if this process still holds the lease (one that outlived it leaves
 * the event to whoever took it since): retried after `retryInMs`, or `failed` once the
 * attempts reach the limit.
 */
export async function recordFailure(
  deps: Deps,
  event: ClaimedEvent,
  error: string,
  retryInMs: number,
  deadline: CommitGuard,
): Promise<Exclude<DeliveryResult, "delivered">> {
  const max = deps.config.MERCHANT_WEBHOOK_MAX_ATTEMPTS;
  return query(deps, deadline, async (db) => {
    // The status is decided on the row's own attempts: a redelivery asked for meanwhile
    // started them over.
    const [result] = await db
      .update(merchantEvents)
      .set({
        deliveryStatus: sql`IF(${merchantEvents.attempts} >= ${max}, 'failed', 'pending')`,
        nextAttemptAt: sql`NOW(3) + INTERVAL ${Math.round(retryInMs * 1000)} MICROSECOND`,
        lastError: error.slice(0, 500),
        leaseUntil: null,
        leaseToken: null,
      })
      .where(leaseHeld(event));
    if (result.affectedRows === 0) return "lease_lost";
    // Under the lease the row's attempts are at most this claim's (a redelivery only lowers
    // them): below the limit here, the event was not failed.
    if (event.attempts < max) return "retry";
    const [row] = await db
      .select({ status: merchantEvents.deliveryStatus })
      .from(merchantEvents)
      .where(eq(merchantEvents.id, event.id));
    return row?.status === "failed" ? "failed" : "retry";
  });
}

/**
 * Gives leases back: `sent` ones were cut short by the process stopping (due again at once,
 * the attempt counted, as it may have arrived); the others were never sent (the attempt not
 * counted), being behind an earlier event of their order that was not delivered.
 */
export async function releaseClaims(
  deps: Deps,
  events: ClaimedEvent[],
  sent: boolean,
  deadline: CommitGuard,
): Promise<void> {
  const [first] = events;
  if (!first) return;
  await query(deps, deadline, (db) =>
    releaseIds(
      db,
      events.map((event) => event.id),
      first.leaseToken,
      sent,
    ),
  );
}

/** Seconds since the oldest event not yet delivered (pending or failed) happened; 0 if none. */
export async function oldestUndeliveredAge(deps: Deps, deadline: CommitGuard): Promise<number> {
  const [rows] = (await query(deps, deadline, (db) =>
    db.execute(sql`
      SELECT TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(3)) AS age
      FROM merchant_events WHERE delivery_status IN ('pending', 'failed')`),
  )) as unknown as [{ age: number | string | null }[]];
  const age = rows[0]?.age;
  return age === null || age === undefined ? 0 : Number(age) / 1e6;
}

/** Runs one of the dispatcher's statements within its own deadline. */
export type Bounded = <T>(work: (deadline: CommitGuard) => Promise<T>) => Promise<T>;

/**
 * The dispatcher's record of what became of each attempt, with its metrics: delivered events
 * batched into one statement for all that ended while the previous one ran (under a sale the
 * database sees a commit per batch, not per event), a failed attempt retried later or failed
 * for good, leases given back. `onError` hears of a record that failed: unrecorded, the events'
 * leases lapse and they are sent again (at least once).
 */
export function outcomeRecorder(deps: Deps, bounded: Bounded, onError: (err: unknown) => void) {
  const toRecord: { event: ClaimedEvent; recorded: (done: boolean) => void }[] = [];
  let recording = false;
  const recordPending = async (): Promise<void> => {
    if (recording) return;
    recording = true;
    try {
      while (toRecord.length > 0) {
        const batch = toRecord.splice(0);
        let done = new Set<number>();
        try {
          const events = batch.map((entry) => entry.event);
          done = await bounded((d) => recordDeliveries(deps, events, d));
        } catch (err) {
          onError(err);
        }
        for (const entry of batch) entry.recorded(done.has(entry.event.id));
      }
    } finally {
      recording = false;
    }
  };
  return {
    /**
     * Records an order's delivered events in the same statement, so the database never shows a
     * later one delivered and an earlier one not.
     */
    async delivered(events: ClaimedEvent[]): Promise<void> {
      const recorded = Promise.all(
        events.map(async (event) => {
          const done = await new Promise<boolean>((recorded) => toRecord.push({ event, recorded }));
          if (!done) return;
          deps.metrics.merchantDeliveries.inc({ result: "delivered" });
          deps.metrics.merchantAttempts.observe(event.attempts);
        }),
      );
      void recordPending();
      await recorded;
    },
    /** A failed attempt: retried after `retryInMs`, or failed once it was the last. */
    async failed(event: ClaimedEvent, error: string, retryInMs: number): Promise<void> {
      const result = await bounded((d) => recordFailure(deps, event, error, retryInMs, d));
      if (result === "lease_lost") return;
      deps.metrics.merchantDeliveries.inc({ result });
      if (result === "failed") {
        deps.logger.warn(
          { eventId: event.id, type: event.type, attempts: event.attempts, error },
          "merchant event failed after its last attempt; the operator can redeliver it",
        );
      }
    },
    /** Leases given back (see releaseClaims). */
    released(events: ClaimedEvent[], sent: boolean): Promise<void> {
      return bounded((d) => releaseClaims(deps, events, sent, d));
    },
  };
}

export type OutcomeRecorder = ReturnType<typeof outcomeRecorder>;
