import { and, asc, eq, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { keysetPage, type PageInput, writesFeed } from "../../db/keyset";
import { purge } from "../../db/purge";
import { type DeliveryStatus, type MerchantEventType, merchantEvents } from "../../db/schema";
import { query, transactProven } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError } from "../../errors";
import { type Actor, recordAudit } from "../audit";

// The operator's and the merchant's view of the outbox: the feed, and a failed event sent again.

export type EventPageInput = PageInput & { delivery?: DeliveryStatus };

export type MerchantEventView = {
  id: number;
  type: MerchantEventType;
  order_id: number;
  created_at: string;
  data: unknown;
  delivery: {
    status: DeliveryStatus;
    attempts: number;
    last_error: string | null;
    next_attempt_at: string | null;
    delivered_at: string | null;
  };
};

type EventRow = typeof merchantEvents.$inferSelect;

function toEventView(row: EventRow): MerchantEventView {
  return {
    id: row.id,
    type: row.type,
    order_id: row.orderId,
    created_at: row.createdAt.toISOString(),
    data: JSON.parse(row.data),
    delivery: {
      status: row.deliveryStatus,
      attempts: row.attempts,
      last_error: row.lastError,
      // Only a pending event has an attempt to come.
      next_attempt_at: row.deliveryStatus === "pending" ? row.nextAttemptAt.toISOString() : null,
      delivered_at: row.deliveredAt?.toISOString() ?? null,
    },
  };
}

const eventFeed = {
  table: merchantEvents,
  id: merchantEvents.id,
  createdAt: merchantEvents.createdAt,
};

export async function listMerchantEvents(
  deps: Deps,
  page: EventPageInput,
  deadline: CommitGuard,
): Promise<{ events: MerchantEventView[]; next_after_id: number | null }> {
  const delivery = page.delivery ? eq(merchantEvents.deliveryStatus, page.delivery) : undefined;
  const { rows, next_after_id } = await query(deps, deadline, (db) =>
    keysetPage(db, eventFeed, page, (window, limit) =>
      db
        .select()
        .from(merchantEvents)
        .where(and(window, delivery))
        .orderBy(asc(merchantEvents.id))
        .limit(limit),
    ),
  );
  return { events: rows.map(toEventView), next_after_id };
}

async function readEvent(tx: Tx, id: number): Promise<EventRow | undefined> {
  const [row] = await tx.select().from(merchantEvents).where(eq(merchantEvents.id, id)).limit(1);
  return row;
}

/**
 * Queues an event for delivery again with its attempts starting over. A delivery under way
 * keeps its lease, so the event is still sent by one process at a time.
 */
export async function redeliverEvent(
  deps: Deps,
  id: number,
  deadline: CommitGuard,
  actor: Actor,
): Promise<MerchantEventView> {
  const row = await transactProven(
    deps,
    deadline,
    async (tx) => {
      const [locked] = await tx
        .select({ status: merchantEvents.deliveryStatus, attempts: merchantEvents.attempts })
        .from(merchantEvents)
        .where(eq(merchantEvents.id, id))
        .for("update");
      if (!locked) throw new AppError("event_not_found", `Merchant event ${id} does not exist.`);
      await tx
        .update(merchantEvents)
        .set({
          deliveryStatus: "pending",
          attempts: 0,
          lastError: null,
          nextAttemptAt: sql`NOW(3)`,
          deliveredAt: null,
        })
        .where(eq(merchantEvents.id, id));
      // A redelivery always changes something: the attempts start over and a new one is due now.
      await recordAudit(tx, actor, {
        action: "event.redeliver",
        target: `event:${id}`,
        changes: { delivery_status: [locked.status, "pending"], attempts: [locked.attempts, 0] },
      });
      return readEvent(tx, id);
    },
    writesFeed,
  );
  if (!row) throw new Error(`merchant event ${id} vanished in its own transaction`);
  deps.logger.info({ eventId: id }, "merchant event queued for redelivery");
  return toEventView(row);
}

/** The sweeper's step: delivered events past MERCHANT_EVENT_RETENTION_DAYS. */
export function purgeDeliveredEvents(
  deps: Deps,
  limit: number,
  deadline: CommitGuard,
): Promise<number> {
  const days = deps.config.MERCHANT_EVENT_RETENTION_DAYS;
  const old = sql`${merchantEvents.deliveryStatus} = 'delivered' AND ${merchantEvents.deliveredAt} <= NOW(3) - INTERVAL ${days} DAY`;
  return purge(deps, merchantEvents, old, limit, deadline);
}

/**
 * The sweeper's step in a process without MERCHANT_WEBHOOK_URL: events never claimed for
 * delivery, MERCHANT_EVENT_RETENTION_DAYS after they happened. A process with the URL claims
 * every pending event within seconds, so one unclaimed that long was recorded, and kept, while
 * no process had a URL; a process with the URL runs no such step, as it will send them.
 */
export function purgeUnsentEvents(
  deps: Deps,
  limit: number,
  deadline: CommitGuard,
): Promise<number> {
  const days = deps.config.MERCHANT_EVENT_RETENTION_DAYS;
  const old = sql`${merchantEvents.deliveryStatus} = 'pending' AND ${merchantEvents.leaseUntil} IS NULL AND ${merchantEvents.createdAt} <= NOW(3) - INTERVAL ${days} DAY`;
  return purge(deps, merchantEvents, old, limit, deadline);
}
