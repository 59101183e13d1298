import { asc } from "drizzle-orm";
import type { Tx } from "../db/client";
import { keysetPage, type PageInput } from "../db/keyset";
import { auditEntries } from "../db/schema";
import { query } from "../db/transaction";
import type { CommitGuard } from "../deadline/deadline";
import type { Deps } from "../deps-type";

// The audit log: every admin change, written by the change's own transaction, so a rolled-back
// or refused change has no entry and a committed one always has one. Each of those
// transactions is bounded as every writer of a paged list's rows is (`writesFeed`, db/keyset.ts).

/** Who asked for a change: the request id its answer carried, and the client's address. */
export type Actor = { requestId: string; clientIp: string | null };

/** Each changed field with its value before and after. */
export type Changes = Record<string, [unknown, unknown]>;

export type AuditAction =
  | "product.create"
  | "product.update"
  | "product.restock"
  | "product.stock_correction"
  | "order.cancel"
  | "conflict.resolve"
  | "event.redeliver";

export type AuditEntryView = {
  id: number;
  at: string;
  action: string;
  target: string;
  request_id: string;
  client_ip: string | null;
  changes: Changes;
  note: string | null;
};

/** The fields of `after` whose values differ from `before`'s, as `[before, after]` pairs. */
export function changedFields(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Changes {
  const changes: Changes = {};
  for (const [field, value] of Object.entries(after)) {
    if (before[field] !== value) changes[field] = [before[field], value];
  }
  return changes;
}

/** Writes the entry in the caller's transaction; a change that changed nothing writes none. */
export async function recordAudit(
  tx: Tx,
  actor: Actor,
  entry: { action: AuditAction; target: string; changes: Changes; note?: string | null },
): Promise<void> {
  if (Object.keys(entry.changes).length === 0) return;
  await tx.insert(auditEntries).values({
    action: entry.action,
    target: entry.target,
    requestId: actor.requestId,
    clientIp: actor.clientIp,
    changes: JSON.stringify(entry.changes),
    note: entry.note ?? null,
  });
}

const auditFeed = { table: auditEntries, id: auditEntries.id, createdAt: auditEntries.at };

export async function listAuditEntries(
  deps: Deps,
  page: PageInput,
  deadline: CommitGuard,
): Promise<{ entries: AuditEntryView[]; next_after_id: number | null }> {
  const { rows, next_after_id } = await query(deps, deadline, (db) =>
    keysetPage(db, auditFeed, page, (window, limit) =>
      db.select().from(auditEntries).where(window).orderBy(asc(auditEntries.id)).limit(limit),
    ),
  );
  return {
    entries: rows.map((row) => ({
      id: row.id,
      at: row.at.toISOString(),
      action: row.action,
      target: row.target,
      request_id: row.requestId,
      client_ip: row.clientIp,
      changes: JSON.parse(row.changes) as Changes,
      note: row.note,
    })),
    next_after_id,
  };
}
