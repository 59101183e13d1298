import { randomBytes } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Tx } from "../db/client";
import { type MerchantEventType, merchantEvents } from "../db/schema";
import { query } from "../db/transaction";
import type { CommitGuard } from "../deadline/deadline";
import type { Deps } from "../deps-type";

// The dispatcher's transactions over the outbox (src/jobs/merchant-dispatcher.ts sends).

/** An event this process holds the lease of, ready to send. */
export type ClaimedEvent = {
  id: number;
  type: MerchantEventType;
  orderId: number;
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
 * event) with no earlier event of the same order that is undelivered and not due itself
 * (failed, waiting for its retry, or leased). An order's earlier events that are due come
 * before it in id order, so they are in the same result: the claim takes an order's events
 * together and the dispatcher sends them one after the other, each once the one before it was
 * accepted, so each order's events reach the merchant in the order they happened without a
 * claim per event. `payment.conflict` events neither wait nor hold back. A plain read: the
 * claim below decides, so its being stale costs nothing but a smaller claim.
 */
const isDue = sql`${merchantEvents.deliveryStatus} = 'pending'
  AND ${merchantEvents.nextAttemptAt} <= NOW(3)
  AND (${merchantEvents.leaseUntil} IS NULL OR ${merchantEvents.leaseUntil} <= NOW(3))
  AND (${merchantEvents.type} = 'payment.conflict' OR NOT EXISTS (
    SELECT 1 FROM merchant_events p
    WHERE p.order_id = ${merchantEvents.orderId} AND p.id < ${merchantEvents.id}
      AND p.type <> 'payment.conflict' AND p.delivery_status <> 'delivered'
      AND (p.delivery_status = 'failed' OR p.next_attempt_at > NOW(3)
        OR (p.lease_until IS NOT NULL AND p.lease_until > NOW(3)))))`;

/**
 * Takes the lease of the due events of up to `chains` orders (each `payment.conflict` on its
 * own) for `leaseMs` (by the database's clock); each order's events in the order they
 * happened. The UPDATE re-checks the lease and the attempts read on the row's latest version,
 * so of two processes claiming one event only one moves it: on one server the second waits for
 * the first's row lock and then finds the lease taken; on a Galera cluster, where locks are per
 * node, the second fails certification and its retry finds the lease taken. No gap locks, no
 * GET_LOCK. Statements on their own (autocommit), no transaction: when the UPDATE moved every
 * row read, the rows read are what this process holds (two round trips); otherwise it reads
 * back which it got and gives back any event whose earlier event of the order it did not get.
 */
export async function claimDueEvents(
  deps: Deps,
  chains: number,
  leaseMs: number,
  deadline: CommitGuard,
): Promise<ClaimedEvent[][]> {
  const token = randomBytes(16);
  return query(deps, deadline, async (db) => {
    // Orders have few events each: this many rows hold `chains` orders' due events or more.
    const due = await db
      .select({
        id: merchantEvents.id,
        type: merchantEvents.type,
        orderId: merchantEvents.orderId,
        createdAt: merchantEvents.createdAt,
        data: merchantEvents.data,
        attempts: merchantEvents.attempts,
      })
      .from(merchantEvents)
      .where(isDue)
      .orderBy(merchantEvents.id)
      .limit(chains * 4);
    const picked = chainsOf(due, chains);
    if (picked.length === 0) return [];
    const rows = picked.flat();
    const ids = rows.map((row) => row.id);
    const [result] = await db
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
          sql`${merchantEvents.attempts} = CASE ${merchantEvents.id} ${sql.join(
            rows.map((row) => sql`WHEN ${row.id} THEN ${row.attempts}`),
            sql` `,
          )} END`,
        ),
      );
    const claim = (row: (typeof rows)[number]): ClaimedEvent => ({
      ...row,
      attempts: row.attempts + 1,
      leaseToken: token,
    });
    if (result.affectedRows === ids.length) return picked.map((chain) => chain.map(claim));
    const got = await db
      .select({ id: merchantEvents.id })
      .from(merchantEvents)
      .where(and(inArray(merchantEvents.id, ids), sql`${merchantEvents.leaseToken} = ${token}`));
    const ours = new Set(got.map((row) => row.id));
    const kept: ClaimedEvent[][] = [];
    const giveBack: number[] = [];
    for (const chain of picked) {
      const missing = chain.findIndex((row) => !ours.has(row.id));
      const sendable = missing < 0 ? chain : chain.slice(0, missing);
      if (sendable.length > 0) kept.push(sendable.map(claim));
      if (missing >= 0) {
        for (const row of chain.slice(missing + 1)) if (ours.has(row.id)) giveBack.push(row.id);
      }
    }
    if (giveBack.length > 0) await releaseIds(db, giveBack, token, false);
    return kept;
  });
}

/** The first `limit` orders' events (a `payment.conflict` alone), each order's in id order. */
function chainsOf<T extends { type: MerchantEventType; orderId: number }>(
  rows: T[],
  limit: number,
): T[][] {
  const chains: T[][] = [];
  const byOrder = new Map<number, T[]>();
  for (const row of rows) {
    const chain = row.type === "payment.conflict" ? undefined : byOrder.get(row.orderId);
    if (chain) {
      chain.push(row);
      continue;
    }
    if (chains.length === limit) continue;
    const started = [row];
    chains.push(started);
    if (row.type !== "payment.conflict") byOrder.set(row.orderId, started);
  }
  return chains;
}

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

const releaseIds = (db: Tx, ids: number[], token: Buffer, sent: boolean) =>
  db
    .update(merchantEvents)
    .set(
      sent
        ? { leaseUntil: null, leaseToken: null, nextAttemptAt: sql`NOW(3)` }
        : { leaseUntil: null, leaseToken: null, attempts: sql`${merchantEvents.attempts} - 1` },
    )
    .where(and(inArray(merchantEvents.id, ids), sql`${merchantEvents.leaseToken} = ${token}`));

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
