import { eq, inArray, sql } from "drizzle-orm";
import { dbNow, type Tx } from "../db/client";
import { products } from "../db/schema";
import { runStatements } from "../db/transaction";
import { type CommitGuard, Deadline } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import { AppError, notFound, serviceUnavailable } from "../errors";
import type { CachedProduct } from "../lib/product-cache";
import { query, transactProven } from "./transact";
import { type ProductView, parseDbTime, toProductView } from "./views";

const MAX_STOCK = 2_147_483_647;

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
  now: Date;
};

/** What a committed stock change leaves behind, for the cache. */
export type ProductSnapshot = { version: number; view: ProductView };

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

/**
 * lockProduct's read as SQL text, for a transaction that sends it with BEGIN in one round trip
 * (the hold batch's hot path); `lockedProductOf` reads its rows. Written out rather than built,
 * as the rows come back by column name; kept beside `lockedColumns`, which it must match.
 */
export function lockProductStatement(id: number): string {
  if (!Number.isSafeInteger(id)) throw new Error("product ids are integers");
  return `SELECT id, name, price_cents, stock_available, stock_reserved, stock_total, version, max_per_buyer, sold_out_at, sale_starts_at, sale_ends_at, NOW(3) AS now FROM products WHERE id = ${id} FOR UPDATE`;
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
      now: parseDbTime(row.now),
    }
  );
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
 * round trip; `applied` must be called once it ran. Written out rather than built by drizzle:
 * on the hold path, building this one UPDATE was a twentieth of the process's CPU. Every value
 * in it is an integer checked here.
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

/**
 * After commit: this process's next read sees its own write at once, and a product with units
 * again is no longer refused from memory.
 */
export function publishProducts(
  deps: Pick<Deps, "productCache" | "soldOut">,
  snapshots: ProductSnapshot[],
): void {
  for (const snapshot of snapshots) publishProduct(deps, snapshot);
}

/** publishProducts for one product; its view as a read in this process now shows it. */
function publishProduct(
  deps: Pick<Deps, "productCache" | "soldOut">,
  snapshot: ProductSnapshot,
): ProductView {
  deps.soldOut.changed(snapshot.view);
  return deps.productCache.offer(snapshot.version, snapshot.view).view;
}

async function readProduct(db: Tx, id: number) {
  const [row] = await db.select().from(products).where(eq(products.id, id)).limit(1);
  return row;
}

/** The cached product, if this process has a fresh one: no await, so no promise on the hot path. */
export function peekProduct(deps: Deps, id: number): CachedProduct | undefined {
  const cached = deps.productCache.get(id);
  if (cached) deps.metrics.productCacheHits.inc();
  return cached;
}

/** A product this process has no fresh copy of: one database read, shared by concurrent misses. */
export function loadProduct(deps: Deps, id: number): Promise<CachedProduct> {
  deps.metrics.productCacheMisses.inc();
  return deps.productCache.load(id, () => readFresh(deps, id));
}

/** Replaces this process's copy of a product before it expires (see refuseFromMemory). */
export function refreshProduct(deps: Deps, id: number): void {
  deps.productCache.refresh(id, () => readFresh(deps, id));
}

async function readFresh(deps: Deps, id: number): Promise<{ version: number; view: ProductView }> {
  // Shared by every request that wants it, so bounded by a deadline of its own.
  const deadline = Deadline.start(deps.config.REQUEST_TIMEOUT_MS);
  try {
    const row = await query(deps, deadline, (db) => readProduct(db, id));
    if (!row) throw notFound.product(id);
    return { version: row.version, view: toProductView(row, deps.clock()) };
  } finally {
    deadline.clear();
  }
}

/** Sale window edges as the API takes them: ISO 8601 timestamps, null or absent when open. */
type SaleWindowInput = { sale_starts_at?: string | null; sale_ends_at?: string | null };

export type CreateProductInput = SaleWindowInput & {
  name: string;
  price_cents: number;
  stock: number;
  max_per_buyer?: number | null;
};

const windowEdge = (value: string | null | undefined) =>
  value === undefined || value === null ? null : new Date(value);

/** 422 unless the window's end is after its start (either side open is fine). */
function checkWindow(startsAt: Date | null, endsAt: Date | null): void {
  if (startsAt !== null && endsAt !== null && endsAt <= startsAt) {
    throw new AppError("validation_failed", "The sale must end after it starts.", {
      errors: [{ path: "sale_ends_at", message: "must be after sale_starts_at" }],
    });
  }
}

export async function createProduct(
  deps: Deps,
  input: CreateProductInput,
  deadline: CommitGuard,
): Promise<ProductView> {
  const saleStartsAt = windowEdge(input.sale_starts_at);
  const saleEndsAt = windowEdge(input.sale_ends_at);
  checkWindow(saleStartsAt, saleEndsAt);
  const row = await transactProven(deps, deadline, async (tx) => {
    const [result] = await tx.insert(products).values({
      name: input.name,
      priceCents: input.price_cents,
      stockAvailable: input.stock,
      stockTotal: input.stock,
      maxPerBuyer: input.max_per_buyer ?? null,
      saleStartsAt,
      saleEndsAt,
    });
    const row = await readProduct(tx, result.insertId);
    if (!row) throw notFound.product(result.insertId);
    return row;
  });
  return deps.productCache.offer(row.version, toProductView(row, deps.clock())).view;
}

export async function restockProduct(
  deps: Deps,
  id: number,
  qty: number,
  deadline: CommitGuard,
): Promise<ProductView> {
  const snapshot = await transactProven(deps, deadline, async (tx) => {
    const product = await lockProduct(tx, id);
    if (!product) throw notFound.product(id);
    // The counters are 32-bit columns; refuse the request rather than let the database fail.
    if (product.stockTotal + qty > MAX_STOCK) {
      throw new AppError(
        "validation_failed",
        `Product ${id} cannot hold more than ${MAX_STOCK} units.`,
        {
          errors: [{ path: "qty", message: `would take the product's stock above ${MAX_STOCK}` }],
        },
      );
    }
    return changeStock(tx, product, { available: qty, total: qty });
  });
  return publishProduct(deps, snapshot);
}

export type UpdateProductInput = SaleWindowInput & {
  name?: string;
  max_per_buyer?: number | null;
};

/**
 * Renames a product, changes its per-buyer limit or moves its sale window. A new limit or
 * window applies to holds from now on: existing holds and orders are never touched, and the
 * time of a limit change is kept so that the reconciliation can tell a buyer over a lowered
 * limit from a limit that was broken.
 */
export async function updateProduct(
  deps: Deps,
  id: number,
  input: UpdateProductInput,
  deadline: CommitGuard,
): Promise<ProductView> {
  const snapshot = await transactProven(deps, deadline, async (tx) => {
    const product = await lockProduct(tx, id);
    if (!product) throw notFound.product(id);
    const limitChanges =
      input.max_per_buyer !== undefined && input.max_per_buyer !== product.maxPerBuyer;
    const saleStartsAt =
      input.sale_starts_at === undefined ? product.saleStartsAt : windowEdge(input.sale_starts_at);
    const saleEndsAt =
      input.sale_ends_at === undefined ? product.saleEndsAt : windowEdge(input.sale_ends_at);
    checkWindow(saleStartsAt, saleEndsAt);
    await tx
      .update(products)
      .set({
        name: input.name ?? product.name,
        maxPerBuyer: limitChanges ? input.max_per_buyer : product.maxPerBuyer,
        ...(limitChanges ? { maxPerBuyerSetAt: sql`NOW(3)` } : {}),
        saleStartsAt,
        saleEndsAt,
        version: sql`${products.version} + 1`,
      })
      .where(eq(products.id, id));
    product.name = input.name ?? product.name;
    if (input.max_per_buyer !== undefined) product.maxPerBuyer = input.max_per_buyer;
    product.saleStartsAt = saleStartsAt;
    product.saleEndsAt = saleEndsAt;
    product.version += 1;
    return { version: product.version, view: toProductView(product, product.now.getTime()) };
  });
  return publishProduct(deps, snapshot);
}

/**
 * A live stock stream for one product, its first event the current state. 503 when this
 * process already serves STOCK_EVENTS_MAX_STREAMS streams; 404 for an unknown product.
 */
export async function watchProduct(deps: Deps, id: number): Promise<ReadableStream<Uint8Array>> {
  const slot = deps.stockHub.claim();
  if (slot === undefined) {
    throw serviceUnavailable(
      `This process serves its maximum of ${deps.config.STOCK_EVENTS_MAX_STREAMS} live stock streams; retry shortly or poll GET /api/products/${id}.`,
    );
  }
  try {
    return slot.open(peekProduct(deps, id) ?? (await loadProduct(deps, id)));
  } catch (err) {
    slot.release();
    throw err;
  }
}
