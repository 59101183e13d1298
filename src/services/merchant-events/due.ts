import { randomBytes } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { type MerchantEventType, merchantEvents } from "../../db/schema";
import { query } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";

// What is due for delivery, and the claim that leases it to this process.

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

/** Gives leases back (see releaseClaims in outcomes.ts), inside a claim too. */
export const releaseIds = (db: Tx, ids: number[], token: Buffer, sent: boolean) =>
  db
    .update(merchantEvents)
    .set(
      sent
        ? { leaseUntil: null, leaseToken: null, nextAttemptAt: sql`NOW(3)` }
        : { leaseUntil: null, leaseToken: null, attempts: sql`${merchantEvents.attempts} - 1` },
    )
    .where(and(inArray(merchantEvents.id, ids), sql`${merchantEvents.leaseToken} = ${token}`));
