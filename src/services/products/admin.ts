import { eq, sql } from "drizzle-orm";
import { products } from "../../db/schema";
import { transactProven } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError, notFound } from "../../errors";
import { type ProductView, toProductView } from "../views";
import { publishProduct } from "./cache";
import { changeStock, lockProduct, readProduct } from "./stock";

// The operator's verbs on a product: create, restock, update. Each commits with proof (see
// transactProven), so a 503 means nothing changed and the operator may retry.

const MAX_STOCK = 2_147_483_647;

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
