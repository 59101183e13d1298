import { randomBytes } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import { type MerchantEventType, merchantEvents } from "../db/schema";
import type { Deps } from "../deps";
import type { CommitGuard } from "../lib/deadline";
import { query, transact } from "./transact";

// The dispatcher's transactions over the outbox (src/jobs/merchant-dispatcher.ts sends).

/** An event this process holds the lease of, ready to send. */
export type ClaimedEvent = {
  id: number;
  type: MerchantEventType;
  createdAt: Date;
  /** The payload's `data`, JSON text. */
  data: string;
  /** Attempts so far, this one included. */
  attempts: number;
  leaseToken: Buffer;
};

export type DeliveryResult = "delivered" | "retry" | "failed" | "lease_lost";

/**
 * Due events, oldest first: pending, past their next attempt, not leased, and (for an order
 * event) with no earlier event of the same order still undelivered, failed included, so each
 * order's events reach the merchant in the order they happened. `payment.conflict` events
 * neither wait nor hold back. A plain read: the claim below decides, so its being stale (an
 * event another process just took) costs nothing but an empty claim.
 */
const dueEvents = (limit: number) => sql`
  SELECT e.id FROM merchant_events e
  WHERE e.delivery_status = 'pending' AND e.next_attempt_at <= NOW(3)
    AND (e.lease_until IS NULL OR e.lease_until <= NOW(3))
    AND (e.type = 'payment.conflict' OR NOT EXISTS (
      SELECT 1 FROM merchant_events p
      WHERE p.order_id = e.order_id AND p.id < e.id
        AND p.type <> 'payment.conflict' AND p.delivery_status <> 'delivered'))
  ORDER BY e.id
  LIMIT ${limit}`;

/**
 * Takes the lease of up to `limit` due events for `leaseMs` (by the database's clock). The
 * UPDATE re-checks the lease on the row's latest version, so of two processes claiming one
 * event only one moves it: on one server the second waits for the first's row lock and then
 * finds the lease taken; on a Galera cluster, where locks are per node, the second fails
 * certification and its retry finds the lease taken. No gap locks, no GET_LOCK.
 */
export async function claimDueEvents(
  deps: Deps,
  limit: number,
  leaseMs: number,
  deadline: CommitGuard,
): Promise<ClaimedEvent[]> {
  const token = randomBytes(16);
  // Statements on their own (autocommit), one connection: the claim is one UPDATE, and an
  // event is only read back by the token that UPDATE wrote.
  return query(deps, deadline, async (db) => {
    const [due] = (await db.execute(dueEvents(limit))) as unknown as [{ id: number | string }[]];
    if (due.length === 0) return [];
    const ids = due.map((row) => Number(row.id));
    await db
      .update(merchantEvents)
      .set({
        leaseUntil: sql`NOW(3) + INTERVAL ${leaseMs * 1000} MICROSECOND`,
        leaseToken: sql`${token}`,
        attempts: sql`${merchantEvents.attempts} + 1`,
      })
      .where(
        and(
          inArray(merchantEvents.id, ids),
          eq(merchantEvents.deliveryStatus, "pending"),
          sql`(${merchantEvents.leaseUntil} IS NULL OR ${merchantEvents.leaseUntil} <= NOW(3))`,
        ),
      );
    const claimed = await db
      .select({
        id: merchantEvents.id,
        type: merchantEvents.type,
        createdAt: merchantEvents.createdAt,
        data: merchantEvents.data,
        attempts: merchantEvents.attempts,
      })
      .from(merchantEvents)
      .where(and(inArray(merchantEvents.id, ids), sql`${merchantEvents.leaseToken} = ${token}`))
      .orderBy(merchantEvents.id);
    return claimed.map((row) => ({ ...row, leaseToken: token }));
  });
}

const leaseHeld = (event: ClaimedEvent) =>
  and(eq(merchantEvents.id, event.id), sql`${merchantEvents.leaseToken} = ${event.leaseToken}`);

/**
 * Records events delivered, in one statement for however many ended since the last record (a
 * commit per event would cost the database as much as the sends). Only events this process
 * still holds the lease of are recorded: the others are left to whoever took them since. The
 * rows recorded get a mark of this call, by which they are read back; the ids recorded.
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
    await db
      .update(merchantEvents)
      .set({
        deliveryStatus: "delivered",
        deliveredAt: sql`NOW(3)`,
        lastError: null,
        leaseUntil: null,
        leaseToken: sql`${mark}`,
      })
      .where(and(inArray(merchantEvents.id, ids), ours));
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
  return transact(deps, deadline, async (tx) => {
    const max = deps.config.MERCHANT_WEBHOOK_MAX_ATTEMPTS;
    // The status is decided on the row's own attempts: a redelivery asked for meanwhile
    // started them over.
    const [result] = await tx
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
    const [row] = await tx
      .select({ status: merchantEvents.deliveryStatus })
      .from(merchantEvents)
      .where(eq(merchantEvents.id, event.id));
    return row?.status === "failed" ? "failed" : "retry";
  });
}

/** Gives a lease back unused (the process is stopping): the event is due again at once. */
export async function releaseClaim(
  deps: Deps,
  event: ClaimedEvent,
  deadline: CommitGuard,
): Promise<void> {
  await transact(deps, deadline, (tx) =>
    tx
      .update(merchantEvents)
      .set({ leaseUntil: null, leaseToken: null, nextAttemptAt: sql`NOW(3)` })
      .where(leaseHeld(event)),
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
