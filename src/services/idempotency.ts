import { createHash } from "node:crypto";
import { and, eq, lte, sql } from "drizzle-orm";
import type { Tx } from "../db/client";
import { isLockWaitTimeout } from "../db/errors";
import { purge } from "../db/purge";
import { idempotencyKeys } from "../db/schema";
import type { TransactDeps } from "../db/transaction";
import type { CommitGuard } from "../deadline/deadline";
import { AppError } from "../errors";

/** A valid Idempotency-Key header and the fingerprint of the request it came with. */
export type IdempotencyHeader = { key: string; fingerprint: string };

/** What a client sent with an Idempotency-Key, reduced to what decides a replay. */
export type IdempotencyRequest = {
  scope: string;
  /** Keys are per buyer; empty for anonymous shoppers. */
  buyer: string;
  key: string;
  fingerprint: string;
  /** An expired row with this key exists and must give way to the new request. */
  replacesExpired: boolean;
};

export type StoredResponse = { status: number; body: string };

/** A service's answer: freshly computed, or the first answer to the same key again. */
export type Outcome<T> =
  | { replayed: false; value: T }
  | { replayed: true; response: StoredResponse };

export type ClaimResult = "claimed" | "taken" | "busy";

export function fingerprintOf(scope: string, body: unknown): string {
  return createHash("sha256").update(scope).update("\n").update(JSON.stringify(body)).digest("hex");
}

export function responseOf(result: { value: unknown; status: number } | AppError): StoredResponse {
  if (result instanceof AppError) {
    return { status: result.status, body: JSON.stringify(result.toProblem()) };
  }
  return { status: result.status, body: JSON.stringify(result.value) };
}

function reused(): AppError {
  return new AppError(
    "idempotency_key_reused",
    "This Idempotency-Key was first used with a different request body.",
  );
}

function inProgress(): AppError {
  return new AppError(
    "idempotency_key_in_progress",
    "A request with this Idempotency-Key is still being processed; retry shortly.",
  );
}

type KeyRow = {
  fingerprint: string;
  responseStatus: number | null;
  responseBody: string | null;
  expired: number;
};

function keyIs(req: Pick<IdempotencyRequest, "scope" | "buyer" | "key">) {
  return and(
    eq(idempotencyKeys.scope, req.scope),
    eq(idempotencyKeys.buyerId, req.buyer),
    eq(idempotencyKeys.idempotencyKey, req.key),
  );
}

async function readKey(
  db: Tx,
  req: Pick<IdempotencyRequest, "scope" | "buyer" | "key">,
): Promise<KeyRow | undefined> {
  const [row] = await db
    .select({
      fingerprint: idempotencyKeys.fingerprint,
      responseStatus: idempotencyKeys.responseStatus,
      responseBody: idempotencyKeys.responseBody,
      expired: sql<number>`${idempotencyKeys.expiresAt} <= NOW(3)`.mapWith(Number),
    })
    .from(idempotencyKeys)
    .where(keyIs(req))
    .limit(1);
  return row;
}

function replayOf(row: KeyRow, fingerprint: string): StoredResponse {
  if (row.fingerprint !== fingerprint) throw reused();
  if (row.responseStatus === null || row.responseBody === null) throw inProgress();
  return { status: row.responseStatus, body: row.responseBody };
}

/**
 * The cheap path before any transaction: a committed key answers at once (replay or 422),
 * an expired one is marked to be replaced, an unknown one goes on to claim.
 */
export async function precheckKey(
  db: Tx,
  req: Pick<IdempotencyRequest, "scope" | "buyer" | "key" | "fingerprint">,
): Promise<Outcome<never> | IdempotencyRequest> {
  const row = await readKey(db, req);
  if (row && row.expired === 0) {
    return { replayed: true, response: replayOf(row, req.fingerprint) };
  }
  return { ...req, replacesExpired: row !== undefined };
}

/**
 * Inserts the key row inside the transaction that makes the effect, so that a crash leaves
 * both or neither. A concurrent duplicate blocks on the unique index until the first commits,
 * then finds the key taken and replays it; past the lock wait timeout it is `busy`.
 */
export async function claimKey(
  tx: Tx,
  req: IdempotencyRequest,
  ttlHours: number,
): Promise<ClaimResult> {
  try {
    if (req.replacesExpired) {
      await tx
        .delete(idempotencyKeys)
        .where(and(keyIs(req), lte(idempotencyKeys.expiresAt, sql`NOW(3)`)));
    }
    const [result] = await tx
      .insert(idempotencyKeys)
      .ignore()
      .values({
        scope: req.scope,
        buyerId: req.buyer,
        idempotencyKey: req.key,
        fingerprint: req.fingerprint,
        expiresAt: sql`NOW(3) + INTERVAL ${ttlHours} HOUR`,
      });
    return result.affectedRows === 1 ? "claimed" : "taken";
  } catch (err) {
    // A lock wait timeout rolls back only the statement, so the transaction can go on.
    if (isLockWaitTimeout(err)) return "busy";
    throw err;
  }
}

const REMEMBERED = (status: number) =>
  (status >= 200 && status < 300) || status === 404 || status === 409 || status === 410;

/**
 * Records the answer with the key. The contract remembers 2xx, 404, 409 and 410; any other
 * answer decided inside the transaction (a 401 for a limited product and no buyer) gives the
 * key back, as a 422 refused before the transaction and a 5xx rolled back with it do.
 */
export async function storeResponse(
  tx: Tx,
  req: IdempotencyRequest,
  response: StoredResponse,
): Promise<void> {
  if (!REMEMBERED(response.status)) {
    await tx.delete(idempotencyKeys).where(keyIs(req));
    return;
  }
  await tx
    .update(idempotencyKeys)
    .set({ responseStatus: response.status, responseBody: response.body })
    .where(keyIs(req));
}

/** After commit, answers a request whose key another request claimed first. */
export async function replayTaken(
  db: Tx,
  req: IdempotencyRequest,
  claim: ClaimResult,
): Promise<StoredResponse> {
  if (claim === "busy") throw inProgress();
  const row = await readKey(db, req);
  if (!row) throw inProgress();
  return replayOf(row, req.fingerprint);
}

export function purgeExpiredKeys(
  deps: TransactDeps,
  limit: number,
  deadline: CommitGuard,
): Promise<number> {
  return purge(deps, idempotencyKeys, lte(idempotencyKeys.expiresAt, sql`NOW(3)`), limit, deadline);
}
