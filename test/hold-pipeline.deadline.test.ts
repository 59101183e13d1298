import { describe, expect, test } from "bun:test";
import { RequestDeadline } from "../src/deadline/request-deadline";
import type { AppError } from "../src/errors";
import { reserveHolds } from "../src/services/hold-pipeline/batch";
import { type HoldAnswer, HoldBatcher } from "../src/services/hold-pipeline/queue";
import { useTestApp } from "./helpers/apps";
import { createProduct, patience } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { summary } from "./helpers/hold-pipeline";
import { invariantViolations } from "./helpers/invariants";

// A hold's deadline is watched by its line's and its batch's one timer (docs/hot-path.md,
// rule 3): a request never arms its own, and is still answered 503 at it, with nothing written.

const { ctx, api } = useTestApp();

/** A request's deadline as the lifecycle makes it, falling due soon. */
const shortly = () => new RequestDeadline(performance.now(), 200);

/** The answer, or the error it was refused with. */
const settled = (answer: AppError | Promise<HoldAnswer>) =>
  Promise.resolve(answer).catch((err: unknown) => err as AppError);

async function heldHolds(productId: number): Promise<number[]> {
  const held = await rows<{ qty: number }>(
    ctx.sql,
    "SELECT qty FROM holds WHERE product_id = ? ORDER BY id",
    [productId],
  );
  return held.map((h) => h.qty);
}

/** A connection holding the product's row lock until `unlock`. */
async function lockProduct(productId: number) {
  const locker = await ctx.sql.getConnection();
  await locker.query("BEGIN");
  await locker.query("SELECT id FROM products WHERE id = ? FOR UPDATE", [productId]);
  return async () => {
    await locker.query("ROLLBACK");
    locker.release();
  };
}

describe("a hold's deadline, watched per line and per batch", () => {
  test("a request waiting in line is answered 503 at its deadline while the batch ahead still runs", async () => {
    const productId = await createProduct(api, 10);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let taken: () => void = () => undefined;
    const firstTaken = new Promise<void>((resolve) => {
      taken = resolve;
    });
    // The first batch is held open before it takes the lock, so the next request waits in line.
    const batcher = new HoldBatcher(64, async (batch, locked, leave) => {
      taken();
      await gate;
      return reserveHolds(ctx.deps, batch, locked, leave);
    });
    const first = settled(batcher.submit({ productId, qty: 1, buyer: null, deadline: patience() }));
    await firstTaken;
    const deadline = shortly();
    const late = settled(batcher.submit({ productId, qty: 2, buyer: null, deadline }));
    expect(summary(await late)).toEqual({ code: "service_unavailable", available: undefined });
    expect(deadline.made).toBeUndefined();
    release();
    expect(summary(await first)).toEqual({ granted: 1 });
    expect(await heldHolds(productId)).toEqual([1]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  for (const batchMax of [64, 1]) {
    test(`a batch waiting on a row lock past every request's deadline is answered 503 and writes nothing (batch max ${batchMax})`, async () => {
      const productId = await createProduct(api, 10);
      const unlock = await lockProduct(productId);
      const batcher = new HoldBatcher(batchMax, (batch, locked, leave) =>
        reserveHolds(ctx.deps, batch, locked, leave),
      );
      const deadlines = [shortly(), shortly()];
      const answers = deadlines.map((deadline, i) =>
        settled(batcher.submit({ productId, qty: i + 1, buyer: null, deadline })),
      );
      // Answered while the lock is still held: the batch gave its requests up itself.
      for (const answer of await Promise.all(answers)) {
        expect(summary(answer)).toEqual({
          code: "service_unavailable",
          available: undefined,
        });
      }
      await unlock();
      for (const deadline of deadlines) expect(deadline.made).toBeUndefined();
      expect(await heldHolds(productId)).toEqual([]);
      expect(await invariantViolations(ctx.sql)).toEqual([]);
    });
  }
});
