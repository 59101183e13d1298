import { sql } from "drizzle-orm";
import {
  bigint,
  binary,
  char,
  check,
  datetime,
  index,
  int,
  mediumtext,
  mysqlEnum,
  mysqlTable,
  smallint,
  uniqueIndex,
  varbinary,
  varchar,
} from "drizzle-orm/mysql-core";

const id = () => bigint("id", { mode: "number", unsigned: true }).autoincrement().primaryKey();
const ref = (name: string) => bigint(name, { mode: "number", unsigned: true });
const timestamp = (name: string) => datetime(name, { mode: "date", fsp: 3 });
const createdAt = () => timestamp("created_at").notNull().default(sql`CURRENT_TIMESTAMP(3)`);
/** A JWT `sub` is at most 128 characters, each at most 4 bytes of UTF-8. */
const BUYER_ID_BYTES = 512;
const buyerId = () => varbinary("buyer_id", { length: BUYER_ID_BYTES });

export const holdStatuses = ["active", "converted", "released", "expired"] as const;
export const orderStatuses = ["pending", "paid", "cancelled"] as const;
export const paymentStatuses = ["succeeded", "failed"] as const;
/** What a recorded payment event says: a webhook's status, or a refund seen at the provider. */
export const paymentEventStatuses = [...paymentStatuses, "refunded"] as const;
export const paymentOutcomes = ["applied", "duplicate-state", "conflict", "deferred"] as const;
export const conflictResolutions = ["refunded", "ignored"] as const;
export const merchantEventTypes = [
  "order.created",
  "order.paid",
  "order.cancelled",
  "payment.conflict",
] as const;
export const deliveryStatuses = ["pending", "delivered", "failed"] as const;

export const products = mysqlTable(
  "products",
  {
    id: id(),
    name: varchar("name", { length: 200 }).notNull(),
    priceCents: int("price_cents").notNull(),
    stockAvailable: int("stock_available").notNull(),
    stockReserved: int("stock_reserved").notNull().default(0),
    // Units ever received (created + restocks): the right-hand side of invariant 3.
    stockTotal: int("stock_total").notNull(),
    // Bumped on every stock change so a process never replaces a cached row with an older one.
    version: bigint("version", { mode: "number", unsigned: true }).notNull().default(1),
    // Units one buyer may have in active holds and pending or paid orders; null: no limit.
    maxPerBuyer: int("max_per_buyer"),
    // When the limit last changed: holds granted before it may exceed a lowered limit.
    maxPerBuyerSetAt: timestamp("max_per_buyer_set_at"),
    // When `available` first reached 0: the sell-out time the operator's page shows.
    soldOutAt: timestamp("sold_out_at"),
    // The sale window, by the database's clock; null: open on that side.
    saleStartsAt: timestamp("sale_starts_at"),
    saleEndsAt: timestamp("sale_ends_at"),
    // The waiting room's settings (both null: none); its line is in waiting_rooms.
    admitPerSecond: int("admit_per_second"),
    admissionSeconds: int("admission_seconds"),
    createdAt: createdAt(),
  },
  (t) => [
    check("products_price_cents_nonneg", sql`${t.priceCents} >= 0`),
    check("products_max_per_buyer_positive", sql`${t.maxPerBuyer} > 0`),
    check("products_stock_reserved_nonneg", sql`${t.stockReserved} >= 0`),
    check("products_stock_reserved_le_available", sql`${t.stockReserved} <= ${t.stockAvailable}`),
    check("products_sale_window", sql`${t.saleEndsAt} > ${t.saleStartsAt}`),
    check(
      "products_waiting_room",
      sql`(${t.admitPerSecond} IS NULL AND ${t.admissionSeconds} IS NULL) OR (${t.admitPerSecond} BETWEEN 0 AND 100000 AND ${t.admissionSeconds} BETWEEN 10 AND 3600)`,
    ),
  ],
);

/**
 * A waiting room's line, one row per product that ever had one (kept when the room is removed,
 * so that restoring it keeps the tickets and positions given). Every join, draw and change of
 * settings locks this row, which is what numbers positions 1..N without a gap on any number of
 * processes or Galera nodes (an AUTO_INCREMENT has gaps there). Admission is a pure function
 * of it and the database's clock (see services/waiting-room/line.ts): `serving` =
 * min(positions, serving_base + floor((now - serving_since) * rate)), rebased at every change.
 */
export const waitingRooms = mysqlTable("waiting_rooms", {
  productId: ref("product_id")
    .primaryKey()
    .references(() => products.id),
  // Positions given (the highest), tickets given (rejoins included), and tickets awaiting the draw.
  positions: int("positions", { unsigned: true }).notNull().default(0),
  joined: int("joined", { unsigned: true }).notNull().default(0),
  unplaced: int("unplaced", { unsigned: true }).notNull().default(0),
  servingBase: int("serving_base", { unsigned: true }).notNull().default(0),
  servingSince: timestamp("serving_since").notNull(),
  // The rate since serving_since: the setting, or 0 while the room is removed.
  rate: int("rate", { unsigned: true }).notNull(),
  // The highest position whose admitted_at and admitted_until are written.
  materialized: int("materialized", { unsigned: true }).notNull().default(0),
  // When the room was last switched on (created or restored): the holds since then are its.
  onSince: timestamp("on_since"),
  // Admissions that ended up to here are counted in the metrics (expired unused) already.
  endedThrough: timestamp("ended_through"),
});

export const queueTickets = mysqlTable(
  "queue_tickets",
  {
    id: id(),
    // To the line's row rather than the product's: a join holds that row's lock already, and a
    // foreign key to products would take the product's lock, which every hold batch wants.
    productId: ref("product_id")
      .notNull()
      .references(() => waitingRooms.productId),
    buyerId: varbinary("buyer_id", { length: BUYER_ID_BYTES }).notNull(),
    position: int("position", { unsigned: true }),
    joinedAt: timestamp("joined_at").notNull(),
    admittedAt: timestamp("admitted_at"),
    admittedUntil: timestamp("admitted_until"),
  },
  (t) => [
    uniqueIndex("queue_tickets_product_position_unique").on(t.productId, t.position),
    index("queue_tickets_product_buyer_idx").on(t.productId, t.buyerId, t.id),
    index("queue_tickets_product_until_idx").on(t.productId, t.admittedUntil),
  ],
);

export const holds = mysqlTable(
  "holds",
  {
    id: id(),
    productId: ref("product_id")
      .notNull()
      .references(() => products.id),
    // The JWT `sub` of the buyer (binary: ids compare byte for byte); null when anonymous.
    buyerId: buyerId(),
    qty: int("qty").notNull(),
    status: mysqlEnum("status", holdStatuses).notNull().default("active"),
    expiresAt: timestamp("expires_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("holds_status_expires_at_idx").on(t.status, t.expiresAt),
    index("holds_product_status_expires_at_idx").on(t.productId, t.status, t.expiresAt),
    index("holds_product_buyer_status_idx").on(t.productId, t.buyerId, t.status),
    // A buyer's own holds, newest first.
    index("holds_buyer_idx").on(t.buyerId),
    check("holds_qty_positive", sql`${t.qty} > 0`),
  ],
);

export const orders = mysqlTable(
  "orders",
  {
    id: id(),
    holdId: ref("hold_id")
      .notNull()
      .references(() => holds.id),
    productId: ref("product_id")
      .notNull()
      .references(() => products.id),
    buyerId: buyerId(),
    qty: int("qty").notNull(),
    unitPriceCents: int("unit_price_cents").notNull(),
    totalCents: bigint("total_cents", { mode: "number" }).notNull(),
    status: mysqlEnum("status", orderStatuses).notNull().default("pending"),
    createdAt: createdAt(),
    // The last change of status (written by order-changes.ts, where every change goes through).
    updatedAt: timestamp("updated_at").notNull().default(sql`CURRENT_TIMESTAMP(3)`),
  },
  (t) => [
    uniqueIndex("orders_hold_id_unique").on(t.holdId),
    // A buyer's own orders, newest first (the primary key rides along in the index).
    index("orders_buyer_idx").on(t.buyerId),
    index("orders_status_created_at_idx").on(t.status, t.createdAt),
    index("orders_product_status_idx").on(t.productId, t.status),
    index("orders_product_buyer_status_idx").on(t.productId, t.buyerId, t.status),
    check("orders_qty_positive", sql`${t.qty} > 0`),
  ],
);

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

/**
 * One row per order id that an order or a payment event for it has touched. Both write it, so
 * that an event arriving before its order and the order's creation conflict on a real row: on
 * one server they queue on its row lock; on a Galera cluster, where gap locks do not
 * replicate, the later of the two fails certification and is run again, and then sees the
 * other. `writes` changes on every touch because a write that changes nothing is not
 * replicated, and so would not conflict.
 */
export const orderGates = mysqlTable("order_gates", {
  orderId: bigint("order_id", { mode: "number", unsigned: true }).primaryKey(),
  writes: int("writes", { unsigned: true }).notNull().default(1),
});

/**
 * One row per hold batch that sent its writes and its COMMIT in one round trip (see
 * hold-pipeline/commit-proof.ts), written in that transaction: when the round trip's answer is lost,
 * the row tells whether the batch committed and from which hold id. The sweeper deletes rows
 * older than an hour; the question is asked as soon as the database answers again.
 */
export const holdBatches = mysqlTable(
  "hold_batches",
  {
    token: binary("token", { length: 16 }).primaryKey(),
    firstHoldId: ref("first_hold_id"),
    createdAt: createdAt(),
  },
  (t) => [index("hold_batches_created_at_idx").on(t.createdAt)],
);

/**
 * One row per transaction that has no row of its own to tell, after a lost COMMIT, whether it
 * committed (an admin restock or edit; see `transactProven`), written in that transaction and
 * read back then. The sweeper deletes rows older than an hour.
 */
export const commitProofs = mysqlTable(
  "commit_proofs",
  {
    token: binary("token", { length: 16 }).primaryKey(),
    createdAt: createdAt(),
  },
  (t) => [index("commit_proofs_created_at_idx").on(t.createdAt)],
);

export const idempotencyKeys = mysqlTable(
  "idempotency_keys",
  {
    id: id(),
    scope: varchar("scope", { length: 64 }).notNull(),
    // Keys are per buyer: two buyers may use the same key. Empty for anonymous shoppers.
    buyerId: varbinary("buyer_id", { length: BUYER_ID_BYTES }).notNull().default(""),
    // Binary for byte-for-byte comparison; the header allows only printable ASCII.
    idempotencyKey: varbinary("idempotency_key", { length: 255 }).notNull(),
    fingerprint: char("fingerprint", { length: 64 }).notNull(),
    responseStatus: smallint("response_status"),
    responseBody: mediumtext("response_body"),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (t) => [
    uniqueIndex("idempotency_keys_scope_buyer_key_unique").on(t.scope, t.buyerId, t.idempotencyKey),
    index("idempotency_keys_expires_at_idx").on(t.expiresAt),
  ],
);

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

/**
 * Every admin change, written in the transaction that made it: who asked (the request id the
 * answer carried, the client's address), what it touched and each field's before and after.
 */
export const auditEntries = mysqlTable("audit_entries", {
  id: id(),
  at: createdAt(),
  action: varchar("action", { length: 64 }).notNull(),
  // "product:1", "order:7", "conflict:3", "event:11".
  target: varchar("target", { length: 64 }).notNull(),
  requestId: varchar("request_id", { length: 200 }).notNull(),
  clientIp: varchar("client_ip", { length: 64 }),
  // `{ "field": [before, after] }` as JSON text.
  changes: mediumtext("changes").notNull(),
  note: varchar("note", { length: 1000 }),
});

export type HoldStatus = (typeof holdStatuses)[number];
export type OrderStatus = (typeof orderStatuses)[number];
export type PaymentStatus = (typeof paymentStatuses)[number];
export type PaymentEventStatus = (typeof paymentEventStatuses)[number];
export type PaymentOutcome = (typeof paymentOutcomes)[number];
export type ConflictResolution = (typeof conflictResolutions)[number];
export type MerchantEventType = (typeof merchantEventTypes)[number];
export type DeliveryStatus = (typeof deliveryStatuses)[number];
