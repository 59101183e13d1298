import { describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { runStatements } from "../src/db/connection";
import { purgeProofs } from "../src/db/purge";
import { holdBatches } from "../src/db/schema";
import { transact } from "../src/db/transaction";
import { AppError } from "../src/errors";
import { reserveHolds } from "../src/services/hold-pipeline/batch";
import {
  holdsWrite,
  lockedProductOf,
  lockProductStatement,
} from "../src/services/hold-pipeline/sql";
import { createHold } from "../src/services/holds";
import { lockProduct } from "../src/services/products/stock";
import { useTestApp } from "./helpers/apps";
import { createProduct, patience } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { summary } from "./helpers/hold-pipeline";
import { invariantViolations } from "./helpers/invariants";

const { ctx, api } = useTestApp({ HOLD_BATCH_MAX: "64" });

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
