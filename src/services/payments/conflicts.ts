import { and, asc, eq, isNull, type SQL, sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { keysetPage, type PageInput, writesFeed } from "../../db/keyset";
import { type ConflictResolution, orders, paymentEvents } from "../../db/schema";
import { query, transact } from "../../db/transaction";
import type { CommitGuard } from "../../deadline/deadline";
import type { Deps } from "../../deps-type";
import { AppError } from "../../errors";
import { type Actor, recordAudit } from "../audit";
import { type PaymentConflict, toConflictView } from "../views";

// Webhook events that disagreed with an order's final state: the refunds to make, and the
// operator's word that each was made (or needs none).

export type ConflictPageInput = PageInput & { state: "open" | "all" };
export type ResolveConflictInput = { resolution: ConflictResolution; note?: string | null };

function selectConflicts(db: Tx, where: SQL | undefined) {
  return db
    .select({
      id: paymentEvents.id,
      idempotencyKey: paymentEvents.idempotencyKey,
      orderId: paymentEvents.orderId,
      status: paymentEvents.status,
      orderStatus: orders.status,
      receivedAt: paymentEvents.receivedAt,
      resolvedAt: paymentEvents.resolvedAt,
      resolution: paymentEvents.resolution,
      resolutionNote: paymentEvents.resolutionNote,
    })
    .from(paymentEvents)
    .leftJoin(orders, eq(orders.id, paymentEvents.orderId))
    .where(and(eq(paymentEvents.outcome, "conflict"), where));
}

const paymentFeed = {
  table: paymentEvents,
  id: paymentEvents.id,
  createdAt: paymentEvents.receivedAt,
};

export async function listPaymentConflicts(
  deps: Deps,
  page: ConflictPageInput,
  deadline: CommitGuard,
): Promise<{ conflicts: PaymentConflict[]; next_after_id: number | null }> {
  const open = page.state === "open" ? isNull(paymentEvents.resolvedAt) : undefined;
  const { rows, next_after_id } = await query(deps, deadline, (db) =>
    keysetPage(db, paymentFeed, page, (window, limit) =>
      selectConflicts(db, and(window, open)).orderBy(asc(paymentEvents.id)).limit(limit),
    ),
  );
  return { conflicts: rows.map(toConflictView), next_after_id };
}

/**
 * Marks a conflict refunded or ignored, once: the same answer again is a 200 that changes
 * nothing (a retry after a lost response), another answer a 409 showing the first.
 */
export async function resolvePaymentConflict(
  deps: Deps,
  id: number,
  input: ResolveConflictInput,
  deadline: CommitGuard,
  actor: Actor,
): Promise<PaymentConflict> {
  const note = input.note ?? null;
  const lockConflict = async (tx: Tx) => {
    const [row] = await selectConflicts(tx, eq(paymentEvents.id, id)).limit(1).for("update");
    return row;
  };
  const sameAnswer = (row: {
    resolution: ConflictResolution | null;
    resolutionNote: string | null;
  }) => row.resolution === input.resolution && row.resolutionNote === note;
  const view = await transact(
    deps,
    deadline,
    async (tx) => {
      const row = await lockConflict(tx);
      if (!row) throw new AppError("conflict_not_found", `Payment conflict ${id} does not exist.`);
      if (row.resolvedAt) {
        if (sameAnswer(row)) return toConflictView(row);
        throw new AppError(
          "conflict_already_resolved",
          `Payment conflict ${id} was already resolved as ${row.resolution}.`,
          { conflict: toConflictView(row) },
        );
      }
      await tx
        .update(paymentEvents)
        .set({ resolvedAt: sql`NOW(3)`, resolution: input.resolution, resolutionNote: note })
        .where(eq(paymentEvents.id, id));
      await recordAudit(tx, actor, {
        action: "conflict.resolve",
        target: `conflict:${id}`,
        changes: { resolution: [null, input.resolution] },
        note,
      });
      const [resolved] = await selectConflicts(tx, eq(paymentEvents.id, id)).limit(1);
      if (!resolved) throw new Error(`payment conflict ${id} vanished in its own transaction`);
      return toConflictView(resolved);
    },
    {
      ...writesFeed,
      // Resolving is idempotent, so the row resolved this way is proof enough.
      committed: async (db) => {
        const row = await lockConflict(db);
        return row !== undefined && row.resolvedAt !== null && sameAnswer(row);
      },
    },
  );
  deps.logger.info({ conflictId: id, resolution: input.resolution }, "payment conflict resolved");
  return view;
}
