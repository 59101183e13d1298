import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { holdBatches } from "../src/db/schema";
import { runStatements } from "../src/db/transaction";
import { AppError } from "../src/errors";
import { type HoldAnswer, HoldBatcher } from "../src/services/hold-batcher";
import { holdsWrite, reserveHolds } from "../src/services/hold-reservation";
import { createHold, HOLDS_SCOPE } from "../src/services/holds";
import { fingerprintOf } from "../src/services/idempotency";
import { lockedProductOf, lockProduct, lockProductStatement } from "../src/services/products";
import { purgeProofs, transact } from "../src/services/transact";
import { type Client, client, createProduct, patience } from "./fixtures";
import {
  createTestContext,
  invariantViolations,
  rows,
  type TestContext,
  waitForLockWaits,
} from "./helpers/harness";

let ctx: TestContext;
let api: Client;

beforeAll(async () => {
  ctx = await createTestContext({ HOLD_BATCH_MAX: "64" });
  api = client(ctx.app);
});
afterAll(() => ctx.close());

function summary(answer: HoldAnswer | Awaited<ReturnType<typeof createHold>>) {
  if (answer instanceof AppError) return { code: answer.code, available: answer.extras.available };
  if (answer.replayed) return { replayed: answer.response.status };
  return { granted: answer.value.qty };
}

async function batchSizes(): Promise<{ count: number; sum: number }> {
  const metric = await ctx.deps.metrics.holdBatchSize.get();
  const value = (name: string) => metric.values.find((v) => v.metricName === name)?.value ?? 0;
  return { count: value("hold_batch_size_count"), sum: value("hold_batch_size_sum") };
}

describe("group reservation", () => {
  test("requests arriving during a transaction are served together, in arrival order", async () => {
    const productId = await createProduct(api, 10);
    const before = await batchSizes();
    const submit = (qty: number) =>
      ctx.deps.holdBatcher.submit({ productId, qty, buyer: null, deadline: patience() });
    // The first request starts a transaction (its batch is taken before the next macrotask);
    // the next five arrive while it runs and are served together by the next one.
    const first = submit(1);
    await new Promise((resolve) => setImmediate(resolve));
    const answers = await Promise.all([
      first,
      submit(5),
      submit(5),
      submit(3),
      submit(2),
      submit(1),
    ]);
    expect(answers.map(summary)).toEqual([
      { granted: 1 },
      { granted: 5 },
      { code: "insufficient_stock", available: 4 },
      { granted: 3 },
      { code: "insufficient_stock", available: 1 },
      { granted: 1 },
    ]);
    const after = await batchSizes();
    expect(after.count - before.count).toBe(2);
    expect(after.sum - before.sum).toBe(6);
    const held = await rows<{ qty: number }>(
      ctx.sql,
      "SELECT qty FROM holds WHERE product_id = ? ORDER BY id",
      [productId],
    );
    expect(held.map((h) => h.qty)).toEqual([1, 5, 3, 1]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("hold ids in a batch match their own rows", async () => {
    const productId = await createProduct(api, 100);
    const answers = await Promise.all(
      [3, 1, 4, 1, 5, 9, 2, 6].map((qty) =>
        createHold(ctx.deps, { product_id: productId, qty }, null, patience()),
      ),
    );
    for (const answer of answers) {
      if (answer instanceof AppError || answer.replayed) throw new Error("unexpected answer");
      const [row] = await rows<{ qty: number; product_id: number }>(
        ctx.sql,
        "SELECT qty, product_id FROM holds WHERE id = ?",
        [answer.value.hold_id],
      );
      expect(row).toEqual({ qty: answer.value.qty, product_id: productId });
    }
  });

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

describe("hold ids of a multi-row insert", () => {
  test.each([
    ["read back (innodb_autoinc_lock_mode=2)", { consecutive: false, step: 1 }],
    ["computed (lock mode 0 or 1)", { consecutive: true, step: 1 }],
  ])("%s match the rows", async (_name, layout) => {
    const productId = await createProduct(api, 100);
    const expiresAt = new Date(Date.now() + 60_000);
    const write = holdsWrite(
      layout,
      productId,
      [3, 1, 2].map((qty) => ({ qty, buyer: null })),
      { createdAt: new Date(), expiresAt },
    );
    const ids = await transact(ctx.deps, patience(), async (tx) =>
      write.ids(await runStatements(tx, write.statements)),
    );
    const held = await rows<{ id: number; qty: number }>(
      ctx.sql,
      "SELECT id, qty FROM holds WHERE product_id = ? ORDER BY id",
      [productId],
    );
    expect(held).toEqual([
      { id: ids[0] as number, qty: 3 },
      { id: ids[1] as number, qty: 1 },
      { id: ids[2] as number, qty: 2 },
    ]);
    // These rows bypassed the stock counters; remove them so the file's invariants still hold.
    await ctx.sql.query("DELETE FROM holds WHERE product_id = ?", [productId]);
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

describe("the hot path's locking read", () => {
  test("written as text (to go with BEGIN), it reads the product as lockProduct does", async () => {
    const productId = await createProduct(api, 7);
    await ctx.sql.query(
      "UPDATE products SET max_per_buyer = 3, sold_out_at = NOW(3) WHERE id = ?",
      [productId],
    );
    const [built, written] = await transact(ctx.deps, patience(), async (tx) => {
      const [rows] = await tx.execute(sql.raw(lockProductStatement(productId)));
      return [await lockProduct(tx, productId), lockedProductOf(rows)];
    });
    expect(written).toEqual({ ...built, now: expect.any(Date) } as never);
    expect(written?.maxPerBuyer).toBe(3);
    expect(written?.soldOutAt).toBeInstanceOf(Date);
  });
});

describe("hold batches sent with their COMMIT", () => {
  test("leave a row naming their first hold, which the sweeper deletes after an hour", async () => {
    const productId = await createProduct(api, 10);
    const answers = await reserveHolds(
      ctx.deps,
      [2, 1, 3].map((qty) => ({ productId, qty, buyer: null, deadline: patience() })),
    );
    const ids = answers.map((answer) => {
      if (answer instanceof AppError || answer.replayed) throw new Error("not granted");
      return answer.value.hold_id;
    });
    const named = () =>
      rows<{ n: number }>(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM hold_batches WHERE first_hold_id = ?",
        [ids[0]],
      );
    expect((await named())[0]?.n).toBe(1);
    expect(await purgeProofs(ctx.deps, holdBatches, 1000, patience())).toBe(0);
    await ctx.sql.query(
      "UPDATE hold_batches SET created_at = NOW(3) - INTERVAL 2 HOUR WHERE first_hold_id = ?",
      [ids[0]],
    );
    expect(await purgeProofs(ctx.deps, holdBatches, 1000, patience())).toBe(1);
    expect((await named())[0]?.n).toBe(0);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
