import { sql } from "drizzle-orm";
import {
  char,
  index,
  mysqlEnum,
  mysqlTable,
  uniqueIndex,
  varbinary,
  varchar,
} from "drizzle-orm/mysql-core";
import { id, ref, timestamp } from "./columns";

export const paymentStatuses = ["succeeded", "failed"] as const;

/** What a recorded payment event says: a webhook's status, or a refund seen at the provider. */
export const paymentEventStatuses = [...paymentStatuses, "refunded"] as const;

export const paymentOutcomes = ["applied", "duplicate-state", "conflict", "deferred"] as const;

export const conflictResolutions = ["refunded", "ignored"] as const;

export const paymentEvents = mysqlTable(
  "payment_events",
  {
    id: id(),
    // Binary, so that keys compare byte for byte: a case-insensitive collation would make
    // "evt_A" and "evt_a" one key. 255 characters of UTF-8 take at most 1020 bytes.
    idempotencyKey: varbinary("idempotency_key", { length: 1020 }).notNull(),
    // No foreign key: an event may arrive before its order exists (it is then deferred).
    orderId: ref("order_id").notNull(),
    status: mysqlEnum("status", paymentEventStatuses).notNull(),
    fingerprint: char("fingerprint", { length: 64 }).notNull(),
    outcome: mysqlEnum("outcome", paymentOutcomes).notNull(),
    receivedAt: timestamp("received_at").notNull().default(sql`CURRENT_TIMESTAMP(3)`),
    processedAt: timestamp("processed_at"),
    // A conflict's refund made or waved away by the operator; null while it waits.
    resolvedAt: timestamp("resolved_at"),
    resolution: mysqlEnum("resolution", conflictResolutions),
    resolutionNote: varchar("resolution_note", { length: 1000 }),
    // The Stripe PaymentIntent the event is about, so a later refund of it finds its order.
    paymentIntent: varbinary("payment_intent", { length: 255 }),
  },
  (t) => [
    index("payment_events_payment_intent_idx").on(t.paymentIntent),
    uniqueIndex("payment_events_idempotency_key_unique").on(t.idempotencyKey),
    index("payment_events_order_outcome_idx").on(t.orderId, t.outcome),
    // The refunds to make, in order, for the operator.
    index("payment_events_outcome_id_idx").on(t.outcome, t.id),
  ],
);

export type PaymentStatus = (typeof paymentStatuses)[number];

export type PaymentEventStatus = (typeof paymentEventStatuses)[number];

export type PaymentOutcome = (typeof paymentOutcomes)[number];

export type ConflictResolution = (typeof conflictResolutions)[number];
