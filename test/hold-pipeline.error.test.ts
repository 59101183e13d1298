import { describe, expect, test } from "bun:test";
import type { AppError } from "../src/errors";
import { reserveHolds } from "../src/services/hold-pipeline/batch";
import { HoldBatcher } from "../src/services/hold-pipeline/queue";
import { HOLDS_SCOPE } from "../src/services/holds";
import { fingerprintOf } from "../src/services/idempotency";
import { useTestApp } from "./helpers/apps";
import { client, createProduct, patience } from "./helpers/fixtures";
import { createTestContext, rows, waitForLockWaits } from "./helpers/harness";
import { summary } from "./helpers/hold-pipeline";
import { invariantViolations } from "./helpers/invariants";

const { ctx, api } = useTestApp({ HOLD_BATCH_MAX: "64" });

describe("group reservation", () => {
  test("a bad request does not fail its batch-mates", async () => {
    const productId = await createProduct(api, 5);
    const keyed = (qty: number) => ({
      productId,
      qty,
      buyer: null,
      deadline: patience(),
      idem: {
        scope: HOLDS_SCOPE,
        buyer: "",
        key: "same-key",
        fingerprint: fingerprintOf(HOLDS_SCOPE, { product_id: productId, qty }),
        replacesExpired: false,
      },
    });
    const submit = (request: Parameters<typeof ctx.deps.holdBatcher.submit>[0]) =>
      ctx.deps.holdBatcher.submit(request);
    // Submitted in one tick: the five form one batch, in this order.
    const answers = await Promise.all([
      submit({ productId, qty: 1, buyer: null, deadline: patience() }),
      submit(keyed(2)),
      submit({ productId, qty: 50, buyer: null, deadline: patience() }),
      submit(keyed(3)),
      submit({ productId, qty: 2, buyer: null, deadline: patience() }),
    ]);
    expect(answers.map(summary)).toEqual([
      { granted: 1 },
      { granted: 2 },
      { code: "insufficient_stock", available: 2 },
      { code: "idempotency_key_reused", available: undefined },
      { granted: 2 },
    ]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a batch for a missing product answers each request 404", async () => {
    const answers = await Promise.all(
      [1, 2, 3].map((qty) =>
        ctx.deps.holdBatcher.submit({ productId: 987_654, qty, buyer: null, deadline: patience() }),
      ),
    );
    expect(answers.map(summary)).toEqual([
      { code: "product_not_found", available: undefined },
      { code: "product_not_found", available: undefined },
      { code: "product_not_found", available: undefined },
    ]);
  });

  test("a failed batch rejects its requests and loses nothing", async () => {
    const broken = await createTestContext({ HOLD_BATCH_MAX: "64" });
    try {
      const productId = await createProduct(client(broken.app), 10);
      await broken.deps.pool.end();
      const results = await Promise.allSettled(
        [1, 2, 3].map((qty) =>
          broken.deps.holdBatcher.submit({ productId, qty, buyer: null, deadline: patience() }),
        ),
      );
      for (const result of results) {
        expect(result.status).toBe("rejected");
        if (result.status === "rejected")
          expect((result.reason as AppError).code).toBe("service_unavailable");
      }
      expect(await invariantViolations(broken.sql)).toEqual([]);
      const [held] = await rows<{ n: number }>(broken.sql, "SELECT COUNT(*) AS n FROM holds");
      expect(held?.n).toBe(0);
    } finally {
      await broken.close();
    }
  });
});

describe("requests past their deadline", () => {
  test("a request whose client gave up while it queued is dropped, not reserved", async () => {
    const productId = await createProduct(api, 10);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // A batcher whose first batch is held open, so the second request waits in the queue.
    const batcher = new HoldBatcher(64, async (batch) => {
      await gate;
      return reserveHolds(ctx.deps, batch);
    });
    const first = batcher.submit({ productId, qty: 1, buyer: null, deadline: patience() });
    const leaving = patience();
    const late = Promise.resolve(
      batcher.submit({ productId, qty: 2, buyer: null, deadline: leaving }),
    ).catch((err: unknown) => err as AppError);
    expect(leaving.abandon()).toBe(true);
    release();
    expect(summary(await first)).toEqual({ granted: 1 });
    expect(((await late) as AppError).code).toBe("service_unavailable");
    const held = await rows<{ qty: number }>(
      ctx.sql,
      "SELECT qty FROM holds WHERE product_id = ?",
      [productId],
    );
    expect(held.map((h) => h.qty)).toEqual([1]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a batch whose client gave up mid-transaction is rolled back and served again without it", async () => {
    const productId = await createProduct(api, 10);
    const leaving = patience();
    const locker = await ctx.sql.getConnection();
    await locker.query("BEGIN");
    await locker.query("SELECT id FROM products WHERE id = ? FOR UPDATE", [productId]);
    const pending = reserveHolds(ctx.deps, [
      { productId, qty: 1, buyer: null, deadline: patience() },
      { productId, qty: 2, buyer: null, deadline: leaving },
      { productId, qty: 3, buyer: null, deadline: patience() },
    ]);
    await waitForLockWaits(ctx.sql, 1);
    // Gives up while its batch is inside a transaction, waiting for the product row.
    expect(leaving.abandon()).toBe(true);
    await locker.query("ROLLBACK");
    locker.release();
    expect((await pending).map(summary)).toEqual([
      { granted: 1 },
      { code: "service_unavailable", available: undefined },
      { granted: 3 },
    ]);
    const held = await rows<{ qty: number }>(
      ctx.sql,
      "SELECT qty FROM holds WHERE product_id = ? ORDER BY id",
      [productId],
    );
    expect(held.map((h) => h.qty)).toEqual([1, 3]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
