import { eq, inArray } from "drizzle-orm";
import { dbNow, type Tx } from "../../db/client";
import { runStatements } from "../../db/connection";
import { products } from "../../db/schema";
import type { ProductView } from "../../lib/product-view";
import { parseDbTime, toProductView } from "../views";

// A product's row inside a transaction: read, locked (always in id order), and its stock moved.

/** A product row read under `FOR UPDATE`, with the database clock at that moment. */
export type LockedProduct = {
  id: number;
  name: string;
  priceCents: number;
  stockAvailable: number;
  stockReserved: number;
  stockTotal: number;
  version: number;
  maxPerBuyer: number | null;
  soldOutAt: Date | null;
  saleStartsAt: Date | null;
  saleEndsAt: Date | null;
  admitPerSecond: number | null;
  admissionSeconds: number | null;
  now: Date;
};

/** What a committed stock change leaves behind, for the cache. */
export type ProductSnapshot = { version: number; view: ProductView };

// ../hold-pipeline/sql.ts writes this read out as text (lockProductStatement): keep them matching.
const lockedColumns = {
  id: products.id,
  name: products.name,
  priceCents: products.priceCents,
  stockAvailable: products.stockAvailable,
  stockReserved: products.stockReserved,
  stockTotal: products.stockTotal,
  version: products.version,
  maxPerBuyer: products.maxPerBuyer,
  soldOutAt: products.soldOutAt,
  saleStartsAt: products.saleStartsAt,
  saleEndsAt: products.saleEndsAt,
  admitPerSecond: products.admitPerSecond,
  admissionSeconds: products.admissionSeconds,
  now: dbNow,
};

export async function lockProduct(tx: Tx, id: number): Promise<LockedProduct | undefined> {
  const [row] = await tx
    .select(lockedColumns)
    .from(products)
    .where(eq(products.id, id))
    .for("update");
  return row && { ...row, now: parseDbTime(row.now) };
}

/** Locks several products in id order, the one order every multi-product transaction uses. */
export async function lockProducts(tx: Tx, ids: number[]): Promise<Map<number, LockedProduct>> {
  if (ids.length === 0) return new Map();
  const rows = await tx
    .select(lockedColumns)
    .from(products)
    .where(inArray(products.id, [...new Set(ids)]))
    .orderBy(products.id)
    .for("update");
  return new Map(rows.map((row) => [row.id, { ...row, now: parseDbTime(row.now) }]));
}

/** Applies stock deltas to a product this transaction has locked. */
export async function changeStock(
  tx: Tx,
  product: LockedProduct,
  delta: StockDelta,
): Promise<ProductSnapshot> {
  const change = stockChangeStatement(product, delta);
  await runStatements(tx, [change.sql]);
  return change.applied();
}

type StockDelta = { available?: number; reserved?: number; total?: number };

/**
 * A stock change as SQL text, for a caller that may send it with other statements in one
 * round trip; `applied` must be called once it ran. Written out rather than built by drizzle
 * (docs/hot-path.md, rule 5): every value in it is an integer checked here.
 */
export function stockChangeStatement(
  product: LockedProduct,
  delta: StockDelta,
): { sql: string; applied: () => ProductSnapshot } {
  const available = delta.available ?? 0;
  const reserved = delta.reserved ?? 0;
  const total = delta.total ?? 0;
  if (![product.id, available, reserved, total].every(Number.isSafeInteger)) {
    throw new Error("stock changes and product ids are integers");
  }
  const sellsOut =
    product.soldOutAt === null &&
    product.stockAvailable + available - (product.stockReserved + reserved) === 0;
  const sql = `UPDATE products SET stock_available = stock_available + ${available}, stock_reserved = stock_reserved + ${reserved}, stock_total = stock_total + ${total}, version = version + 1${sellsOut ? ", sold_out_at = NOW(3)" : ""} WHERE id = ${product.id}`;
  const applied = (): ProductSnapshot => {
    if (sellsOut) product.soldOutAt = product.now;
    product.stockAvailable += available;
    product.stockReserved += reserved;
    product.stockTotal += total;
    product.version += 1;
    return { version: product.version, view: toProductView(product, product.now.getTime()) };
  };
  return { sql, applied };
}

/**
 * Gives units back to their products, as expiry (to `reserved`) or cancellation (to
 * `available`) does: products locked in id order, one stock change per product.
 */
export async function returnStock(
  tx: Tx,
  items: { productId: number; qty: number }[],
  from: "reserved" | "sold",
): Promise<ProductSnapshot[]> {
  const totals = new Map<number, number>();
  for (const item of items)
    totals.set(item.productId, (totals.get(item.productId) ?? 0) + item.qty);
  const locked = await lockProducts(tx, [...totals.keys()]);
  const snapshots: ProductSnapshot[] = [];
  for (const [productId, qty] of [...totals].sort(([a], [b]) => a - b)) {
    const product = locked.get(productId);
    if (!product) continue;
    snapshots.push(
      await changeStock(tx, product, from === "reserved" ? { reserved: -qty } : { available: qty }),
    );
  }
  return snapshots;
}

/** The product row as it stands, unlocked. */
export async function readProduct(db: Tx, id: number) {
  const [row] = await db.select().from(products).where(eq(products.id, id)).limit(1);
  return row;
}
