import { index, int, mysqlTable, uniqueIndex, varbinary } from "drizzle-orm/mysql-core";
import { BUYER_ID_BYTES, id, ref, timestamp } from "./columns";
import { products } from "./products";

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
