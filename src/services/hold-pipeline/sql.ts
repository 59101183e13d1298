import { sql } from "drizzle-orm";
import type { AutoIncrement, Db, Tx } from "../../db/client";
import { readAutoIncrement } from "../../db/client";
import type { Logger } from "../../lib/logger";
import type { BuyerId } from "../buyers";
import type { LockedProduct } from "../products/stock";
import { parseDbTime } from "../views";

// The hot path's SQL: what a batch sends, written out as text (docs/hot-path.md, rule 5). The
// stock UPDATE (stockChangeStatement) is the one exception: every stock change shares it, so it
// stays with the stock arithmetic in ../products/stock.ts. A check per product added to the
// batch is one more statement here, sent with the lock (see openingOf in decide.ts).

/** A buyer's units of a product, and how many of them are in holds expired by now. */
export type Owned = { units: number; expired: number };

/**
 * Each buyer's units of a product in active holds and in pending or paid orders: what the
 * product's `max_per_buyer` limits; `expired` counts those in holds whose time had passed at
 * `now` (not yet marked: reclaiming them could make room). Exact when read under the product's
 * row lock, because every change to those units (a grant, a release, an expiry, an order, a
 * failed payment, a payment timeout) happens under that lock too.
 */
export async function unitsByBuyer(
  tx: Tx,
  productId: number,
  buyers: string[],
  now: Date,
): Promise<Map<string, Owned>> {
  if (buyers.length === 0) return new Map();
  const [rows] = await tx.execute(sql.raw(unitsByBuyerStatement(productId, buyers, time(now))));
  return ownedOf(rows);
}

/**
 * unitsByBuyer's read as one literal statement (buyer ids as hex literals, nothing quoted), for
 * the batch to send with its locking read in one round trip; `now` is a time literal, or
 * `NOW(3)` there (a statement later than the lock's reading of it, which only decides whether
 * reclaiming expired holds is tried).
 */
export function unitsByBuyerStatement(productId: number, buyers: string[], now: string): string {
  if (!Number.isSafeInteger(productId)) throw new Error("product ids are integers");
  const list = buyers.map(hex).join(",");
  return `SELECT buyer_id, SUM(qty) AS units, SUM(expired) AS expired FROM (
      SELECT buyer_id, qty, IF(expires_at <= ${now}, qty, 0) AS expired FROM holds
      WHERE product_id = ${productId} AND status = 'active' AND buyer_id IN (${list})
      UNION ALL
      SELECT buyer_id, qty, 0 FROM orders
      WHERE product_id = ${productId} AND status IN ('pending', 'paid') AND buyer_id IN (${list})
    ) AS owned GROUP BY buyer_id`;
}

/** unitsByBuyerStatement's rows, by buyer. */
export function ownedOf(rows: unknown): Map<string, Owned> {
  const owned = new Map<string, Owned>();
  for (const row of rows as { buyer_id: Buffer | string; units: string; expired: string }[]) {
    owned.set(String(row.buyer_id), { units: Number(row.units), expired: Number(row.expired) });
  }
  return owned;
}

/** A timestamp as a literal, to the millisecond, as the holds' times are written. */
const time = (date: Date) => `'${date.toISOString().slice(0, 23).replace("T", " ")}'`;

/** Bytes (a buyer id, a token) as a hex literal: no quoting to get wrong. */
const hex = (bytes: string | Uint8Array) => `X'${Buffer.from(bytes).toString("hex")}'`;

/** Ids read back, whatever the layout: right on every server. */
const UNKNOWN_LAYOUT: AutoIncrement = { consecutive: false, step: 1 };

const layouts = new WeakMap<Db, AutoIncrement>();
const reading = new WeakSet<Db>();

/**
 * The server's id layout for multi-row INSERTs, without waiting for it: read once per process
 * (in the background, on the first batch). Until it is known the batch reads its ids back; a
 * failed read is tried again by the next batch, not kept (logged at debug level: an outage is
 * the database health tracker's to report, once).
 */
export function autoIncrementOf(db: Db, logger: Logger): AutoIncrement {
  const layout = layouts.get(db);
  if (layout) return layout;
  if (!reading.has(db)) {
    reading.add(db);
    readAutoIncrement(db).then(
      (read) => layouts.set(db, read),
      (err: unknown) => {
        reading.delete(db);
        logger.debug(
          { err },
          "reading the id layout failed: hold ids are read back until it is known",
        );
      },
    );
  }
  return UNKNOWN_LAYOUT;
}

type HoldsWrite = {
  statements: string[];
  /** The new holds' ids in insertion order, from the statements' results. */
  ids: (results: unknown[]) => number[];
};

type HoldsWriteOptions = {
  /**
   * The database's clock when the batch locked the product, which decided the sale window:
   * written as the holds' `created_at`, so that a hold is never dated past the window that
   * granted it, however late its INSERT runs.
   */
  createdAt: Date;
  expiresAt: Date;
  /** The stock update, run after the INSERT. */
  stockChange?: string;
  /** Writes the batch's row in hold_batches naming its first hold id. */
  token?: Buffer;
};

/** The writes of a batch: the granted holds in one INSERT, the stock update, the batch's row. */
export function holdsWrite(
  autoIncrement: AutoIncrement,
  productId: number,
  rows: { qty: number; buyer: BuyerId }[],
  { createdAt, expiresAt, stockChange, token }: HoldsWriteOptions,
): HoldsWrite {
  if (rows.length === 0) return { statements: stockChange ? [stockChange] : [], ids: () => [] };
  // One literal VALUES list (docs/hot-path.md, rule 5): every value is an integer checked here,
  // a timestamp formatted here, or a buyer id or token written as a hex literal.
  if (!rows.every((row) => Number.isSafeInteger(row.qty)) || !Number.isSafeInteger(productId)) {
    throw new Error("hold quantities and product ids must be integers");
  }
  const created = time(createdAt);
  const expires = time(expiresAt);
  const values = rows
    .map(
      (row) =>
        `(${productId},${row.buyer === null ? "NULL" : hex(row.buyer)},${row.qty},'active',${expires},${created})`,
    )
    .join(",");
  const statements = [
    `INSERT INTO holds (product_id, buyer_id, qty, status, expires_at, created_at) VALUES ${values}`,
  ];
  // Unless ids are consecutive, read them back: no other transaction can insert holds for
  // this product while we hold its row lock, so ours are exactly the first ones from the
  // insert's first id (LAST_INSERT_ID, which the statements after it leave alone) on.
  const readBack = rows.length > 1 && !autoIncrement.consecutive;
  if (readBack) {
    statements.push(
      `SELECT id FROM holds WHERE product_id = ${productId} AND id >= LAST_INSERT_ID() ORDER BY id LIMIT ${rows.length}`,
    );
  }
  if (stockChange) statements.push(stockChange);
  if (token) {
    statements.push(
      `INSERT INTO hold_batches (token, first_hold_id) VALUES (${hex(token)}, LAST_INSERT_ID())`,
    );
  }
  return {
    statements,
    ids: (results) => {
      if (readBack) return (results[1] as { id: number }[]).map((row) => row.id);
      const { insertId } = results[0] as { insertId: number };
      return rows.map((_, i) => insertId + i * autoIncrement.step);
    },
  };
}

/**
 * lockProduct's read as SQL text, for a transaction that sends it with BEGIN in one round trip
 * (the hold batch's hot path); `lockedProductOf` reads its rows. Written out rather than built,
 * as the rows come back by column name; it must match `lockedColumns` in ../products/stock.ts.
 */
export function lockProductStatement(id: number): string {
  if (!Number.isSafeInteger(id)) throw new Error("product ids are integers");
  return `SELECT id, name, price_cents, stock_available, stock_reserved, stock_total, version, max_per_buyer, sold_out_at, sale_starts_at, sale_ends_at, admit_per_second, admission_seconds, NOW(3) AS now FROM products WHERE id = ${id} FOR UPDATE`;
}

type LockedRow = {
  id: number;
  name: string;
  price_cents: number;
  stock_available: number;
  stock_reserved: number;
  stock_total: number;
  version: number | string;
  max_per_buyer: number | null;
  sold_out_at: Date | string | null;
  sale_starts_at: Date | string | null;
  sale_ends_at: Date | string | null;
  admit_per_second: number | null;
  admission_seconds: number | null;
  now: Date | string;
};

export function lockedProductOf(rows: unknown): LockedProduct | undefined {
  const [row] = rows as LockedRow[];
  return (
    row && {
      id: row.id,
      name: row.name,
      priceCents: row.price_cents,
      stockAvailable: row.stock_available,
      stockReserved: row.stock_reserved,
      stockTotal: row.stock_total,
      version: Number(row.version),
      maxPerBuyer: row.max_per_buyer,
      soldOutAt: row.sold_out_at === null ? null : parseDbTime(row.sold_out_at),
      saleStartsAt: row.sale_starts_at === null ? null : parseDbTime(row.sale_starts_at),
      saleEndsAt: row.sale_ends_at === null ? null : parseDbTime(row.sale_ends_at),
      admitPerSecond: row.admit_per_second,
      admissionSeconds: row.admission_seconds,
      now: parseDbTime(row.now),
    }
  );
}
