import { sql } from "drizzle-orm";
import {
  binary,
  index,
  int,
  mediumtext,
  mysqlEnum,
  mysqlTable,
  varchar,
} from "drizzle-orm/mysql-core";
import { createdAt, id, ref, timestamp } from "./columns";

export const merchantEventTypes = [
  "order.created",
  "order.paid",
  "order.cancelled",
  "payment.conflict",
] as const;

export const deliveryStatuses = ["pending", "delivered", "failed"] as const;

/**
 * The transactional outbox of merchant events: each row is written in the transaction that
 * made the change it reports (src/services/order-changes.ts), and the dispatcher
 * (src/services/merchant-delivery.ts) sends it. `lease_until` is the claim: a process sends an
 * event only after an UPDATE that moved it from the past to the future, so two processes (two
 * Galera nodes included: the second UPDATE fails certification or finds the lease taken)
 * never send it at once, and one killed mid-delivery leaves it to another once it lapses.
 */
export const merchantEvents = mysqlTable(
  "merchant_events",
  {
    id: id(),
    type: mysqlEnum("type", merchantEventTypes).notNull(),
    // No foreign key: an event outlives nothing it reports, and the purge needs no order lock.
    orderId: ref("order_id").notNull(),
    // The payload's `data`, as JSON text, fixed when the event happened.
    data: mediumtext("data").notNull(),
    createdAt: createdAt(),
    deliveryStatus: mysqlEnum("delivery_status", deliveryStatuses).notNull().default("pending"),
    attempts: int("attempts").notNull().default(0),
    lastError: varchar("last_error", { length: 500 }),
    nextAttemptAt: timestamp("next_attempt_at").notNull().default(sql`CURRENT_TIMESTAMP(3)`),
    leaseUntil: timestamp("lease_until"),
    // Which claim holds the lease, so a delivery that outlived its lease records nothing.
    leaseToken: binary("lease_token", { length: 16 }),
    deliveredAt: timestamp("delivered_at"),
  },
  (t) => [
    // The dispatcher's scan of pending events in id order, stopping at its LIMIT: a backlog
    // is not sorted whole on every look.
    index("merchant_events_delivery_id_idx").on(t.deliveryStatus, t.id),
    // Per-order ordering (an earlier event of the order still undelivered) and invariant checks.
    index("merchant_events_order_id_idx").on(t.orderId, t.id),
    // The retention purge of delivered events.
    index("merchant_events_delivered_at_idx").on(t.deliveryStatus, t.deliveredAt),
  ],
);

export type MerchantEventType = (typeof merchantEventTypes)[number];

export type DeliveryStatus = (typeof deliveryStatuses)[number];
