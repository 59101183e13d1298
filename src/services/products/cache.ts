import { query } from "../../db/transaction";
import { Deadline } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { notFound } from "../../errors";
import type { ProductView } from "../../lib/product-view";
import type { CachedProduct, ProductRead } from "../../state/product-cache";
import { toProductView } from "../views";
import { readLineFigures } from "../waiting-room/figures";
import { type ProductSnapshot, readProduct } from "./stock";

// This process's copy of each product: read through on a miss, replaced before it expires, and
// handed each change this process commits.

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
export function publishProduct(
  deps: Pick<Deps, "productCache" | "soldOut">,
  snapshot: ProductSnapshot,
): ProductView {
  deps.soldOut.changed(snapshot.view);
  return deps.productCache.offer(snapshot.version, snapshot.view).view;
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

async function readFresh(deps: Deps, id: number): Promise<ProductRead> {
  // Shared by every request that wants it, so bounded by a deadline of its own.
  const deadline = Deadline.start(deps.config.REQUEST_TIMEOUT_MS);
  try {
    const row = await query(deps, deadline, (db) => readProduct(db, id));
    if (!row) throw notFound.product(id);
    // A product with a waiting room shows where its line stands: one more read, of that row.
    const line =
      row.admitPerSecond === null
        ? undefined
        : await query(deps, deadline, (db) => readLineFigures(db, id));
    return { version: row.version, view: toProductView(row, deps.clock(), line) };
  } finally {
    deadline.clear();
  }
}
