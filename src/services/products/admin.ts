import { eq, sql } from "drizzle-orm";
import { writesFeed } from "../../db/keyset";
import { products } from "../../db/schema";
import { transactProven } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError, notFound } from "../../errors";
import type { ProductView } from "../../lib/product-view";
import { type Actor, changedFields, recordAudit } from "../audit";
import { toProductView } from "../views";
import { changeWaitingRoom, settingsOf, type WaitingRoomInput } from "../waiting-room/settings";
import { publishProduct } from "./cache";
import { lockProduct, readProduct } from "./stock";

// The operator's verbs on a product: create and update (restock.ts moves its stock). Each commits
// with proof (see transactProven), so a 503 means nothing changed and the operator may retry,
// and each writes its audit entry in the same transaction.

export const MAX_STOCK = 2_147_483_647;

/** Sale window edges as the API takes them: ISO 8601 timestamps, null or absent when open. */
type SaleWindowInput = { sale_starts_at?: string | null; sale_ends_at?: string | null };

export type CreateProductInput = SaleWindowInput & {
  name: string;
  price_cents: number;
  stock: number;
  max_per_buyer?: number | null;
  waiting_room?: WaitingRoomInput | null;
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
  actor: Actor,
): Promise<ProductView> {
  const saleStartsAt = windowEdge(input.sale_starts_at);
  const saleEndsAt = windowEdge(input.sale_ends_at);
  checkWindow(saleStartsAt, saleEndsAt);
  const room = settingsOf(input.waiting_room ?? null);
  const { row, line } = await transactProven(
    deps,
    deadline,
    async (tx) => {
      const [result] = await tx.insert(products).values({
        name: input.name,
        priceCents: input.price_cents,
        stockAvailable: input.stock,
        stockTotal: input.stock,
        maxPerBuyer: input.max_per_buyer ?? null,
        saleStartsAt,
        saleEndsAt,
        admitPerSecond: room?.admitPerSecond ?? null,
        admissionSeconds: room?.admissionSeconds ?? null,
      });
      const row = await readProduct(tx, result.insertId);
      if (!row) throw notFound.product(result.insertId);
      const line = await changeWaitingRoom(tx, {
        productId: row.id,
        before: null,
        after: room,
        saleStartsAt: saleStartsAt?.getTime() ?? null,
      });
      const created = auditedFields(toProductView(row, deps.clock()));
      await recordAudit(tx, actor, {
        action: "product.create",
        target: `product:${row.id}`,
        changes: changedFields(nothingOf(created), created),
      });
      return { row, line };
    },
    writesFeed,
  );
  return deps.productCache.offer(row.version, toProductView(row, deps.clock(), line)).view;
}

/** The fields of a product's view that its audit entries record. */
function auditedFields(view: ProductView) {
  return {
    name: view.name,
    price_cents: view.price_cents,
    stock_available: view.stock_available,
    max_per_buyer: view.max_per_buyer,
    sale_starts_at: view.sale_starts_at,
    sale_ends_at: view.sale_ends_at,
    // Flat, so that a change shows as [before, after] of plain values.
    "waiting_room.admit_per_second": view.waiting_room?.admit_per_second ?? null,
    "waiting_room.admission_seconds": view.waiting_room?.admission_seconds ?? null,
  };
}

/** The same fields before a product existed: every one null. */
function nothingOf(fields: Record<string, unknown>): Record<string, null> {
  return Object.fromEntries(Object.keys(fields).map((key) => [key, null]));
}

export type UpdateProductInput = SaleWindowInput & {
  name?: string;
  price_cents?: number;
  max_per_buyer?: number | null;
  waiting_room?: WaitingRoomInput | null;
};

/**
 * Renames a product, changes its price or per-buyer limit, or moves its sale window. A new
 * price, limit or window applies from now on: existing holds and orders are never touched
 * (an order keeps the price it was made at), and the time of a limit change is kept so that
 * the reconciliation can tell a buyer over a lowered limit from a limit that was broken.
 */
export async function updateProduct(
  deps: Deps,
  id: number,
  input: UpdateProductInput,
  deadline: CommitGuard,
  actor: Actor,
): Promise<ProductView> {
  const snapshot = await transactProven(
    deps,
    deadline,
    async (tx) => {
      const product = await lockProduct(tx, id);
      if (!product) throw notFound.product(id);
      const before = auditedFields(toProductView(product, product.now.getTime()));
      const limitChanges =
        input.max_per_buyer !== undefined && input.max_per_buyer !== product.maxPerBuyer;
      const saleStartsAt =
        input.sale_starts_at === undefined
          ? product.saleStartsAt
          : windowEdge(input.sale_starts_at);
      const saleEndsAt =
        input.sale_ends_at === undefined ? product.saleEndsAt : windowEdge(input.sale_ends_at);
      checkWindow(saleStartsAt, saleEndsAt);
      const roomBefore =
        product.admitPerSecond === null || product.admissionSeconds === null
          ? null
          : { admitPerSecond: product.admitPerSecond, admissionSeconds: product.admissionSeconds };
      const room = input.waiting_room === undefined ? roomBefore : settingsOf(input.waiting_room);
      await tx
        .update(products)
        .set({
          name: input.name ?? product.name,
          priceCents: input.price_cents ?? product.priceCents,
          maxPerBuyer: limitChanges ? input.max_per_buyer : product.maxPerBuyer,
          ...(limitChanges ? { maxPerBuyerSetAt: sql`NOW(3)` } : {}),
          saleStartsAt,
          saleEndsAt,
          admitPerSecond: room?.admitPerSecond ?? null,
          admissionSeconds: room?.admissionSeconds ?? null,
          version: sql`${products.version} + 1`,
        })
        .where(eq(products.id, id));
      const line = await changeWaitingRoom(tx, {
        productId: id,
        before: roomBefore,
        after: room,
        saleStartsAt: saleStartsAt?.getTime() ?? null,
      });
      product.name = input.name ?? product.name;
      product.priceCents = input.price_cents ?? product.priceCents;
      if (input.max_per_buyer !== undefined) product.maxPerBuyer = input.max_per_buyer;
      product.saleStartsAt = saleStartsAt;
      product.saleEndsAt = saleEndsAt;
      product.admitPerSecond = room?.admitPerSecond ?? null;
      product.admissionSeconds = room?.admissionSeconds ?? null;
      product.version += 1;
      const view = toProductView(product, product.now.getTime(), line);
      await recordAudit(tx, actor, {
        action: "product.update",
        target: `product:${id}`,
        changes: changedFields(before, auditedFields(view)),
      });
      return { version: product.version, view };
    },
    writesFeed,
  );
  // This process reads the line (and the tickets' state) again after a change of its settings.
  if (input.waiting_room !== undefined || input.sale_starts_at !== undefined) {
    deps.ticketBoard.forget(id);
  }
  return publishProduct(deps, snapshot);
}
