import { sql } from "drizzle-orm";
import { bigint, check, int, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { createdAt, id, timestamp } from "./columns";

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
