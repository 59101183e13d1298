import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import {
  admin,
  type Client,
  countBy,
  createHold,
  createProduct,
  type Reply,
} from "./helpers/fixtures";
import { rows, type ServedContext, waitForLockWaits } from "./helpers/harness";
import { holdCount as holdsOf, invariantViolations } from "./helpers/invariants";

// Admission under a storm: the per-product queue bound and refusals of a sold-out product.

/** How many hold batches (transactions) this process has run. */
async function batchCount(ctx: ServedContext): Promise<number> {
  const metric = await ctx.deps.metrics.holdBatchSize.get();
  return metric.values.find((v) => v.metricName === "hold_batch_size_count")?.value ?? 0;
}

/** `holds_refused_total` for one reason, as the next scrape would show it. */
async function refusedFor(ctx: ServedContext, reason: string): Promise<number> {
  const metric = await ctx.deps.metrics.registry.getSingleMetric("holds_refused_total")?.get();
  return metric?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

const storm = (api: Client, productId: number, count: number) =>
  Promise.all(
    Array.from({ length: count }, () => api.post("/api/holds", { product_id: productId, qty: 1 })),
  );

describe.each([["64"], ["1"]])("HOLD_QUEUE_MAX with HOLD_BATCH_MAX=%s", (batch) => {
  const { ctx, api } = useServedApp({
    HOLD_QUEUE_MAX: "5",
    HOLD_BATCH_MAX: batch,
    DB_POOL_SIZE: "16",
  });

  test("one request over the bound is 429 too_many_requests with Retry-After, and changes nothing", async () => {
    const productId = await createProduct(api, 100);
    const refusedBefore = await refusedFor(ctx, "too_many_requests");
    // The product row is held, so the requests pile up in this process's queue.
    const locker = await ctx.sql.getConnection();
    await locker.query("BEGIN");
    await locker.query("SELECT id FROM products WHERE id = ? FOR UPDATE", [productId]);
    let answered = 0;
    const pending = Promise.all(
      Array.from({ length: 30 }, () =>
        api.post("/api/holds", { product_id: productId, qty: 1 }).then((r) => {
          answered++;
          return r;
        }),
      ),
    );
    await waitForLockWaits(ctx.sql, 1);
    // Everything over the bound is answered at once, while the first five still wait.
    for (let i = 0; i < 200 && answered < 25; i++) await Bun.sleep(10);
    await locker.query("ROLLBACK");
    locker.release();
    const replies = await pending;
    const statuses = countBy(replies, (r) => r.status);
    console.info(
      `queue bound 5, batch ${batch}, 30 requests on a locked product: ${JSON.stringify(statuses)}`,
    );
    const refused = replies.filter((r) => r.status === 429);
    expect(statuses).toEqual({ "201": 5, "429": 25 });
    for (const r of refused) {
      expect(r.body.code).toBe("too_many_requests");
      expect(r.headers.get("retry-after")).toBe("1");
    }
    expect(await refusedFor(ctx, "too_many_requests")).toBe(refusedBefore + 25);
    expect(await holdsOf(ctx.sql, productId)).toBe(5);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("a sold-out product under a storm", () => {
  const { ctx, api } = useServedApp({
    HOLD_TTL_SECONDS: "2",
    // No sweeper during these tests: expiry must come from the buyers' own requests.
    SWEEPER_CRON: "0 0 0 1 1 *",
    DB_POOL_SIZE: "16",
  });

  const onlyRefusals = (replies: Reply[]) => {
    for (const r of replies) {
      expect([409, 429]).toContain(r.status);
      if (r.status === 409)
        expect(r.body).toMatchObject({ code: "insufficient_stock", available: 0 });
    }
  };

  test("gets only 409 insufficient_stock (or 429) and oversells nothing", async () => {
    const productId = await createProduct(api, 5);
    const first = await storm(api, productId, 5);
    expect(first.every((r) => r.status === 201)).toBe(true);
    const batches = () => batchCount(ctx);
    const before = await batches();
    const replies = await storm(api, productId, 300);
    onlyRefusals(replies);
    // Refused from what the last batch saw: the database was not asked again.
    expect((await batches()) - before).toBeLessThanOrEqual(1);
    expect(await holdsOf(ctx.sql, productId)).toBe(5);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("refused from what the last batch saw even once the product's cached read has expired", async () => {
    const productId = await createProduct(api, 5);
    expect((await storm(api, productId, 5)).every((r) => r.status === 201)).toBe(true);
    // Past PRODUCT_CACHE_TTL_MS: nobody reads the product, so its cached read is gone; a batch
    // that only refuses changes nothing and does not bring it back, but it is a new sighting.
    await Bun.sleep(ctx.config.PRODUCT_CACHE_TTL_MS + 100);
    onlyRefusals(await storm(api, productId, 100));
    const before = await batchCount(ctx);
    onlyRefusals(await storm(api, productId, 300));
    expect((await batchCount(ctx)) - before).toBe(0);
    expect(await holdsOf(ctx.sql, productId)).toBe(5);
  });

  test("a hold right after another hold expired succeeds even after a storm, before any sweeper", async () => {
    const productId = await createProduct(api, 1);
    await createHold(api, productId, 1);
    onlyRefusals(await storm(api, productId, 100));
    // Past the hold's expiry by the database clock, with no sweeper: the units are reclaimed.
    const [{ wait } = { wait: 0 }] = await rows<{ wait: number }>(
      ctx.sql,
      "SELECT TIMESTAMPDIFF(MICROSECOND, NOW(3), MAX(expires_at)) / 1000 AS wait FROM holds WHERE product_id = ?",
      [productId],
    );
    await Bun.sleep(Math.max(0, Number(wait)) + 100);
    const again = await api.post("/api/holds", { product_id: productId, qty: 1 });
    expect(again.status).toBe(201);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a release through the same process is holdable at once", async () => {
    const productId = await createProduct(api, 1);
    const holdId = await createHold(api, productId, 1);
    onlyRefusals(await storm(api, productId, 100));
    const released = await api.raw(`/api/holds/${holdId}`, { method: "DELETE" });
    expect(released.status).toBe(200);
    const again = await api.post("/api/holds", { product_id: productId, qty: 1 });
    expect(again.status).toBe(201);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a per-buyer limit set on a sold-out product: anonymous holds are 401 at once, not refused from memory", async () => {
    const productId = await createProduct(api, 1);
    await createHold(api, productId, 1);
    onlyRefusals(await storm(api, productId, 50));
    const patched = await api.raw(`/api/admin/products/${productId}`, {
      method: "PATCH",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ max_per_buyer: 1 }),
    });
    expect(patched.status).toBe(200);
    const replies = await storm(api, productId, 20);
    expect(countBy(replies, (r) => String(r.body.code))).toEqual({ unauthorized: 20 });
    expect(await holdsOf(ctx.sql, productId)).toBe(1);
  });

  test("a keyed request on a sold-out product is still refused through the database, and remembered", async () => {
    const productId = await createProduct(api, 1);
    await createHold(api, productId, 1);
    const headers = { "idempotency-key": `sold-out-${productId}` };
    const refused = await api.post("/api/holds", { product_id: productId, qty: 1 }, headers);
    expect(refused.status).toBe(409);
    const replay = await api.post("/api/holds", { product_id: productId, qty: 1 }, headers);
    expect(replay.status).toBe(409);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
  });
});
