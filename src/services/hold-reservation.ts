import { randomBytes } from "node:crypto";
import { and, asc, eq, gte, sql } from "drizzle-orm";
import { type AutoIncrement, type Db, readAutoIncrement, type Tx } from "../db/client";
import { Abandoned } from "../db/errors";
import { holdBatches, holds } from "../db/schema";
import { type Closing, combines, runStatements } from "../db/transaction";
import { allOf } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import { AppError, buyerLimitExceeded, gaveUp, insufficientStock, notFound } from "../errors";
import { unitsByBuyer } from "./buyer-limits";
import type { BuyerId } from "./buyers";
import type { HoldAnswer, HoldRequest } from "./hold-batcher";
import { reclaimExpiredHolds } from "./hold-expiry";
import { holdExists } from "./holds";
import { type ClaimResult, claimKey, replayTaken, responseOf, storeResponse } from "./idempotency";
import {
  type LockedProduct,
  lockedProductOf,
  lockProduct,
  lockProductStatement,
  type ProductSnapshot,
  publishProducts,
  stockChangeStatement,
} from "./products";
import { windowRefusal } from "./sale-window";
import type { SoldOutSighting } from "./sold-out";
import { query, transact } from "./transact";
import { grantedHoldView, type HoldView, parseDbTime, toProductView } from "./views";

// Group reservation: the hot path of a sale. Hold requests for one product are served in
// batches, one transaction each (see hold-batcher.ts for why).

type Decision =
  | { kind: "granted"; view: HoldView }
  | { kind: "refused"; error: AppError }
  | { kind: "taken"; claim: ClaimResult };

/**
 * Serves a batch of hold requests for one product in one transaction. A batch commits only
 * while every one of its clients still waits; when some gave up (and were answered 503), it
 * is rolled back and served again without them.
 */
export async function reserveHolds(
  deps: Deps,
  batch: HoldRequest[],
  locked: () => void = () => undefined,
): Promise<HoldAnswer[]> {
  const answers: HoldAnswer[] = new Array(batch.length);
  let live = batch;
  // Where each live request stands in `batch`; none until a request leaves (the common case).
  let positions: number[] | undefined;
  for (;;) {
    if (live.some((request) => request.deadline.abandoned)) {
      const staying: HoldRequest[] = [];
      const at: number[] = [];
      for (const [i, request] of live.entries()) {
        const position = positions ? (positions[i] as number) : i;
        if (request.deadline.abandoned) answers[position] = gaveUp();
        else {
          staying.push(request);
          at.push(position);
        }
      }
      live = staying;
      positions = at;
    }
    if (live.length === 0) return answers;
    try {
      const served = await reserveBatch(deps, live, locked);
      if (!positions) return served;
      for (const [i, answer] of served.entries()) answers[positions[i] as number] = answer;
      return answers;
    } catch (err) {
      if (!(err instanceof Abandoned)) throw err;
    }
  }
}

/**
 * One transaction for a batch: the product row is locked once, requests are decided in
 * arrival order, each all-or-nothing.
 */
async function reserveBatch(
  deps: Deps,
  batch: HoldRequest[],
  locked: () => void,
): Promise<HoldAnswer[]> {
  const productId = batch[0]?.productId;
  if (productId === undefined) return [];
  const autoIncrement = await autoIncrementOf(deps.db);
  const guard = allOf(batch.map((request) => request.deadline));
  // A batch without keys locks its product first thing, so the lock goes with BEGIN; keys are
  // claimed before the product (the order every transaction takes them in).
  const keyless = batch.every((request) => !request.idem);
  const { decisions, snapshot, reclaimedHolds, soldOut, sighting } = await transact(
    deps,
    guard,
    async (tx, opened) => {
      const decisions: Decision[] = new Array(batch.length);
      // Keys are claimed in a fixed order so two batches sharing keys cannot deadlock.
      const keyed = batch
        .map((request, index) => ({ request, index }))
        .filter((entry) => entry.request.idem)
        .sort((a, b) => compareKeys(a.request.idem?.key ?? "", b.request.idem?.key ?? ""));
      for (const { request, index } of keyed) {
        if (!request.idem) continue;
        const claim = await claimKey(tx, request.idem, deps.config.IDEMPOTENCY_KEY_TTL_HOURS);
        if (claim !== "claimed") decisions[index] = { kind: "taken", claim };
      }

      const product =
        opened === undefined ? await lockProduct(tx, productId) : lockedProductOf(opened);
      locked();
      let outcome: Allocation = { reclaimedHolds: 0 };
      if (product) {
        outcome = await allocate(tx, deps, product, batch, decisions, autoIncrement, keyless);
      } else {
        batch.forEach((_, i) => {
          decisions[i] ??= { kind: "refused", error: notFound.product(productId) };
        });
      }

      for (const [i, request] of batch.entries()) {
        const decision = decisions[i];
        if (!request.idem || !decision || decision.kind === "taken") continue;
        const response =
          decision.kind === "granted"
            ? responseOf({ status: 201, value: decision.view })
            : responseOf(decision.error);
        await storeResponse(tx, request.idem, response);
      }
      return { decisions, ...outcome };
    },
    {
      committed: (db, result) => batchCommitted(db, result, productId),
      openWith: keyless ? lockProductStatement(productId) : undefined,
      closeWith: (result) => result.closing,
    },
  );

  if (snapshot) publishProducts(deps, [snapshot]);
  if (sighting) deps.soldOut.saw(productId, sighting);
  if (soldOut) deps.logger.info({ productId }, "product sold out: every unit is held or sold");
  deps.metrics.holdBatchSize.observe(batch.length);
  if (reclaimedHolds > 0) deps.metrics.holdsExpired.inc({ by: "buyer" }, reclaimedHolds);
  let granted = 0;
  let replays = false;
  const answers = decisions.map((decision, i): HoldAnswer | Promise<HoldAnswer> => {
    switch (decision.kind) {
      case "granted":
        granted++;
        return { replayed: false, value: decision.view };
      case "refused":
        deps.metrics.holdsRefused.inc({ reason: decision.error.code });
        return decision.error;
      default:
        replays = true;
        return replayAfterCommit(deps, batch[i], decision.claim);
    }
  });
  deps.metrics.holdsGranted.inc(granted);
  // Most batches have nothing to replay: no promise per answer then.
  return replays ? Promise.all(answers) : (answers as HoldAnswer[]);
}

type Allocation = {
  snapshot?: ProductSnapshot;
  reclaimedHolds: number;
  soldOut?: boolean;
  /** Nothing left after this batch: what the sold-out board may refuse from, after commit. */
  sighting?: SoldOutSighting;
  /** The batch's writes, when they go to the server with its COMMIT. */
  closing?: Closing;
  /** The row that proves such a batch committed, and how to grant its holds then. */
  proof?: { token: Buffer; holds: number; grant: (ids: number[]) => void };
};

/**
 * Decides the undecided requests of a batch against a locked product, in arrival order, and
 * writes the granted holds and the counter. On a product with `max_per_buyer`, each buyer's
 * units (held or ordered, plus what this batch already gave them) are checked first. The first
 * shortfall of either kind reclaims the product's expired holds before anyone is refused.
 */
async function allocate(
  tx: Tx,
  deps: Deps,
  product: LockedProduct,
  batch: HoldRequest[],
  decisions: Decision[],
  autoIncrement: AutoIncrement,
  deferWrites: boolean,
): Promise<Allocation> {
  const closed = windowRefusal(
    product.saleStartsAt?.getTime() ?? null,
    product.saleEndsAt?.getTime() ?? null,
    product.now.getTime(),
  );
  if (closed) {
    batch.forEach((_, i) => {
      decisions[i] ??= { kind: "refused", error: closed };
    });
    // The product as the database stands, so that this process refuses the rest of a storm
    // before the opening from memory.
    const view = toProductView(product, product.now.getTime());
    return { reclaimedHolds: 0, snapshot: { version: product.version, view } };
  }
  const expiresAt = new Date(product.now.getTime() + deps.config.HOLD_TTL_SECONDS * 1000);
  const availableBefore = product.stockAvailable - product.stockReserved;
  const limit = product.maxPerBuyer;
  const buyers =
    limit === null
      ? []
      : [...new Set(batch.flatMap((r, i) => (decisions[i] || r.buyer === null ? [] : [r.buyer])))];
  let owned =
    limit === null ? new Map<string, number>() : await unitsByBuyer(tx, product.id, buyers);
  const grantedTo = new Map<string, number>();
  const usedBy = (buyer: string) => (owned.get(buyer) ?? 0) + (grantedTo.get(buyer) ?? 0);
  let available = availableBefore;
  let reclaimed: { holds: number; units: number } | undefined;
  const reclaim = async () => {
    if (reclaimed) return;
    reclaimed = await reclaimExpiredHolds(tx, product);
    available += reclaimed.units;
    if (limit !== null && reclaimed.holds > 0) owned = await unitsByBuyer(tx, product.id, buyers);
  };
  const granted: number[] = [];
  for (const [i, request] of batch.entries()) {
    if (decisions[i]) continue;
    const { buyer, qty } = request;
    if (limit !== null) {
      if (buyer === null) {
        decisions[i] = { kind: "refused", error: noBuyer(limit) };
        continue;
      }
      if (usedBy(buyer) + qty > limit) await reclaim();
      if (usedBy(buyer) + qty > limit) {
        decisions[i] = { kind: "refused", error: buyerLimitExceeded(limit, usedBy(buyer)) };
        continue;
      }
    }
    if (qty > available) await reclaim();
    if (qty <= available) {
      available -= qty;
      granted.push(i);
      if (buyer !== null) grantedTo.set(buyer, (grantedTo.get(buyer) ?? 0) + qty);
    } else {
      decisions[i] = { kind: "refused", error: insufficientStock(available) };
    }
  }
  const rows = granted.map((i) => ({ qty: batch[i]?.qty ?? 0, buyer: batch[i]?.buyer ?? null }));
  const reserved = rows.reduce((sum, row) => sum + row.qty, 0) - (reclaimed?.units ?? 0);
  const changed = rows.length > 0 || (reclaimed?.holds ?? 0) > 0;
  const change = changed ? stockChangeStatement(product, { reserved }) : undefined;
  // Sent with COMMIT, the writes' answer can be lost with the connection; a batch row written
  // with them then tells whether they committed (see batchCommitted).
  const token = deferWrites && combines(tx) && rows.length > 0 ? randomBytes(16) : undefined;
  const write = holdsWrite(autoIncrement, product.id, rows, {
    createdAt: product.now,
    expiresAt,
    stockChange: change?.sql,
    token,
  });
  // One expiry for the whole batch, written out once rather than per hold.
  const expires = expiresAt.toISOString();
  const grant = (ids: number[]) => {
    granted.forEach((batchIndex, n) => {
      const row = rows[n];
      decisions[batchIndex] = {
        kind: "granted",
        view: grantedHoldView(
          {
            id: ids[n] ?? 0,
            productId: product.id,
            buyerId: row?.buyer ?? null,
            qty: row?.qty ?? 0,
          },
          expires,
        ),
      };
    });
  };
  let closing: Closing | undefined;
  if (write.statements.length === 0) grant([]);
  else if (deferWrites) {
    closing = { statements: write.statements, apply: (results) => grant(write.ids(results)) };
  } else grant(write.ids(await runStatements(tx, write.statements)));
  // Our own holds are not written yet when the writes are deferred, and expire last.
  const earliest =
    available === 0
      ? ((await nextExpiry(tx, product.id)) ?? (rows.length > 0 ? expiresAt : null))
      : null;
  return {
    snapshot: change?.applied(),
    reclaimedHolds: reclaimed?.holds ?? 0,
    soldOut: availableBefore > 0 && available === 0,
    sighting:
      available === 0
        ? { dbNow: product.now, nextExpiry: earliest, maxPerBuyer: product.maxPerBuyer }
        : undefined,
    closing,
    proof: token && { token, holds: rows.length, grant },
  };
}

/**
 * Whether a batch whose COMMIT lost its answer committed, read on a connection of its own in
 * autocommit mode. A batch that sent its writes with COMMIT wrote a row under its token: present,
 * it committed, and its holds start at the row's hold id. Otherwise the batch is all-or-nothing:
 * if its first granted hold exists, it committed; one that granted nothing answers refusals and
 * replays, true either way.
 */
async function batchCommitted(
  db: Tx,
  batch: Allocation & { decisions: Decision[] },
  productId: number,
): Promise<boolean> {
  const { proof } = batch;
  if (proof) {
    // The row is written by the batch's last statements, so a database still running them has
    // nothing yet for a locking read to wait on; the product's row lock, held by the batch from
    // its first statement to its end, is. Once it is free the batch has committed or not.
    await lockProduct(db, productId);
    const [row] = await db
      .select({ firstHoldId: holdBatches.firstHoldId })
      .from(holdBatches)
      .where(sql`${holdBatches.token} = ${proof.token}`)
      .limit(1);
    if (!row) return false;
    // Read back whatever the id layout: batches after ours locked the product after our commit,
    // so their holds come later, and ours are the first ones from the row's id on.
    const ours = await db
      .select({ id: holds.id })
      .from(holds)
      .where(and(eq(holds.productId, productId), gte(holds.id, Number(row.firstHoldId))))
      .orderBy(asc(holds.id))
      .limit(proof.holds);
    proof.grant(ours.map((hold) => hold.id));
    return true;
  }
  return grantsCommitted(db, batch.decisions);
}

/**
 * A batch is all-or-nothing: if its first granted hold exists, it committed. A batch that
 * granted nothing answers refusals and replays, which are true whether or not it committed.
 */
async function grantsCommitted(db: Tx, decisions: Decision[]): Promise<boolean> {
  const granted = decisions.find((d) => d.kind === "granted");
  if (granted?.kind !== "granted") return true;
  return holdExists(db, granted.view);
}

async function replayAfterCommit(
  deps: Deps,
  request: HoldRequest | undefined,
  claim: ClaimResult,
): Promise<HoldAnswer> {
  const idem = request?.idem;
  if (!request || !idem) throw new Error("a key was taken for a request without one");
  try {
    const response = await query(deps, request.deadline, (db) => replayTaken(db, idem, claim));
    return { replayed: true, response };
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

/** A stable order: the same key twice in one batch keeps arrival order, so the first claims it. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const autoIncrements = new WeakMap<Db, Promise<AutoIncrement>>();

function autoIncrementOf(db: Db): Promise<AutoIncrement> {
  let layout = autoIncrements.get(db);
  if (!layout) {
    layout = readAutoIncrement(db);
    autoIncrements.set(db, layout);
  }
  return layout;
}

/** When the product's first active hold expires: until then no unit can come back by expiry. */
async function nextExpiry(tx: Tx, productId: number): Promise<Date | null> {
  const [row] = await tx
    .select({ at: sql<string | null>`MIN(${holds.expiresAt})` })
    .from(holds)
    .where(and(eq(holds.productId, productId), eq(holds.status, "active")));
  return row?.at ? parseDbTime(row.at) : null;
}

function noBuyer(limit: number): AppError {
  return new AppError(
    "unauthorized",
    `This product allows ${limit} per buyer; holding it needs a buyer token, and none is configured or sent.`,
  );
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
  // One literal VALUES list: binding five parameters per row cost more CPU than the rest of
  // the batch. Safe because every value is an integer checked here, a timestamp formatted
  // here, or a buyer id or token written as a hex literal (no quoting to get wrong).
  if (!rows.every((row) => Number.isSafeInteger(row.qty)) || !Number.isSafeInteger(productId)) {
    throw new Error("hold quantities and product ids must be integers");
  }
  const time = (date: Date) => `'${date.toISOString().slice(0, 23).replace("T", " ")}'`;
  const created = time(createdAt);
  const expires = time(expiresAt);
  const hex = (bytes: string | Uint8Array) => `X'${Buffer.from(bytes).toString("hex")}'`;
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
