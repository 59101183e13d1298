import { writesFeed } from "../../db/keyset";
import { transactProven } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError, notFound } from "../../errors";
import type { ProductView } from "../../lib/product-view";
import { type Actor, recordAudit } from "../audit";
import { MAX_STOCK } from "./admin";
import { publishProduct } from "./cache";
import { changeStock, lockProduct } from "./stock";

// The operator's stock moves: a restock adds units, a correction moves stock_available and
// stock_total either way, never below the units held. Each commits with proof and writes its
// audit entry in the same transaction, as admin.ts's verbs do.

/**
 * Moves a product's `stock_available` (and the units it ever received, invariant 3's right-hand
 * side) by `delta`: a restock, or a correction of a miscount either way. Down never below the
 * units in active holds: those were promised to buyers.
 */
async function moveStock(
  deps: Deps,
  id: number,
  move: { delta: number; field: string; action: "product.restock" | "product.stock_correction" },
  deadline: CommitGuard,
  actor: Actor,
  note?: string | null,
): Promise<ProductView> {
  const { delta } = move;
  const snapshot = await transactProven(
    deps,
    deadline,
    async (tx) => {
      const product = await lockProduct(tx, id);
      if (!product) throw notFound.product(id);
      // The counters are 32-bit columns; refuse the request rather than let the database fail.
      if (product.stockTotal + delta > MAX_STOCK) {
        throw new AppError(
          "validation_failed",
          `Product ${id} cannot hold more than ${MAX_STOCK} units.`,
          {
            errors: [
              { path: move.field, message: `would take the product's stock above ${MAX_STOCK}` },
            ],
          },
        );
      }
      if (product.stockAvailable + delta < product.stockReserved) {
        const reserved = product.stockReserved;
        throw new AppError(
          "stock_in_use",
          `Product ${id} has ${product.stockAvailable} units, ${reserved} of them in active holds: it can lose at most ${product.stockAvailable - reserved}.`,
          { reserved },
        );
      }
      const before = product.stockAvailable;
      const moved = await changeStock(tx, product, { available: delta, total: delta });
      await recordAudit(tx, actor, {
        action: move.action,
        target: `product:${id}`,
        changes: { stock_available: [before, product.stockAvailable] },
        note,
      });
      return moved;
    },
    writesFeed,
  );
  return publishProduct(deps, snapshot);
}

export function restockProduct(
  deps: Deps,
  id: number,
  qty: number,
  deadline: CommitGuard,
  actor: Actor,
): Promise<ProductView> {
  return moveStock(
    deps,
    id,
    { delta: qty, field: "qty", action: "product.restock" },
    deadline,
    actor,
  );
}

export type StockCorrectionInput = { delta: number; note?: string | null };

export function correctStock(
  deps: Deps,
  id: number,
  input: StockCorrectionInput,
  deadline: CommitGuard,
  actor: Actor,
): Promise<ProductView> {
  const move = { delta: input.delta, field: "delta", action: "product.stock_correction" } as const;
  return moveStock(deps, id, move, deadline, actor, input.note);
}
