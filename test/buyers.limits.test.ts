import { describe, expect, test } from "bun:test";
import { cancelUnpaidOrders } from "../src/services/orders";
import { findBuyerLimitBreaches } from "../src/services/reconcile";
import { useServers, useTestApp } from "./helpers/apps";
import { bearer, expectUnauthorized, HS256, hs256, limitedProduct } from "./helpers/buyers";
import { expectProblem } from "./helpers/contract";
import { admin, type Client, countBy, patience } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";

describe("per-buyer limits", () => {
  const { ctx, api } = useTestApp({ ...HS256, HOLD_TTL_SECONDS: "60" });

  const as = async (sub: string) => bearer(await hs256({ sub }));

  test("a hold past the limit is 409 buyer_limit_exceeded with limit and used", async () => {
    const productId = await limitedProduct(api, 100, 3);
    const me = await as("limit-1");
    expect((await api.post("/api/holds", { product_id: productId, qty: 2 }, me)).status).toBe(201);
    const over = await api.post("/api/holds", { product_id: productId, qty: 2 }, me);
    expectProblem(over, 409, {
      title: "Buyer limit exceeded",
      code: "buyer_limit_exceeded",
      detail: expect.any(String),
      limit: 3,
      used: 2,
    });
    expect((await api.post("/api/holds", { product_id: productId, qty: 1 }, me)).status).toBe(201);
    const other = await api.post(
      "/api/holds",
      { product_id: productId, qty: 3 },
      await as("limit-2"),
    );
    expect(other.status).toBe(201);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("release, expiry, a failed payment and a payment timeout give units back", async () => {
    const productId = await limitedProduct(api, 100, 2);
    const me = await as("giver");
    const hold = async () => api.post("/api/holds", { product_id: productId, qty: 2 }, me);
    const refused = async () => expect((await hold()).body.code).toBe("buyer_limit_exceeded");

    // release
    const first = await hold();
    await refused();
    await api.raw(`/api/holds/${first.body.hold_id}`, { method: "DELETE", headers: me });
    // expiry, before any sweeper: the buyer's own request reclaims it
    const second = await hold();
    expect(second.status).toBe(201);
    await refused();
    await ctx.sql.query("UPDATE holds SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?", [
      second.body.hold_id,
    ]);
    // failed payment
    const third = await hold();
    expect(third.status).toBe(201);
    const order = await api.post("/api/orders", { hold_id: third.body.hold_id }, me);
    await refused();
    const failed = await api.webhook({
      idempotency_key: `fail-${order.body.order_id}`,
      order_id: order.body.order_id,
      status: "failed",
    });
    expect(failed.body.order_status).toBe("cancelled");
    // payment timeout
    const fourth = await hold();
    expect(fourth.status).toBe(201);
    const unpaid = await api.post("/api/orders", { hold_id: fourth.body.hold_id }, me);
    await refused();
    await ctx.sql.query("UPDATE orders SET created_at = NOW(3) - INTERVAL 2 HOUR WHERE id = ?", [
      unpaid.body.order_id,
    ]);
    expect(await cancelUnpaidOrders(ctx.deps, 100, patience())).toBe(1);
    expect((await hold()).status).toBe(201);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("lowering a limit keeps existing holds; new holds meet the new limit", async () => {
    const productId = await limitedProduct(api, 100, 3);
    const me = await as("lowered");
    const held = await api.post("/api/holds", { product_id: productId, qty: 3 }, me);
    expect(held.status).toBe(201);
    const patched = await api.raw(`/api/admin/products/${productId}`, {
      method: "PATCH",
      headers: { ...admin, "content-type": "application/json" },
      body: JSON.stringify({ max_per_buyer: 1, name: "Renamed sneaker" }),
    });
    expect(patched.status).toBe(200);
    expect(await patched.json()).toMatchObject({ max_per_buyer: 1, name: "Renamed sneaker" });
    expect((await api.get(`/api/holds/${held.body.hold_id}`, me)).body.status).toBe("active");
    const more = await api.post("/api/holds", { product_id: productId, qty: 1 }, me);
    expect(more.body).toMatchObject({ code: "buyer_limit_exceeded", limit: 1, used: 3 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
    expect(await findBuyerLimitBreaches(ctx.deps)).toEqual([]);
  });

  test("the reconciliation reports a buyer over the limit (a row forced past it)", async () => {
    const productId = await limitedProduct(api, 100, 1);
    await ctx.sql.query(
      "INSERT INTO holds (product_id, buyer_id, qty, status, expires_at) VALUES (?, 'forced', 5, 'active', NOW(3) + INTERVAL 1 HOUR)",
      [productId],
    );
    await ctx.sql.query("UPDATE products SET stock_reserved = stock_reserved + 5 WHERE id = ?", [
      productId,
    ]);
    expect(await findBuyerLimitBreaches(ctx.deps)).toEqual([
      { product_id: productId, buyer_id: "forced", units: 5, max_per_buyer: 1 },
    ]);
    expect((await invariantViolations(ctx.sql)).join()).toContain("buyer forced has 5 units");
    await ctx.sql.query("DELETE FROM holds WHERE buyer_id = 'forced'");
    await ctx.sql.query("UPDATE products SET stock_reserved = stock_reserved - 5 WHERE id = ?", [
      productId,
    ]);
  });
});

describe("anonymous mode (no buyer tokens configured)", () => {
  const { ctx, api } = useTestApp();

  test("holds carry buyer_id null; a product with max_per_buyer is 401, changing nothing", async () => {
    const open = await limitedProduct(api, 10, null);
    const limited = await limitedProduct(api, 10, 2);
    const hold = await api.post("/api/holds", { product_id: open, qty: 1 });
    expect(hold.status).toBe(201);
    expect(hold.body.buyer_id).toBeNull();
    const key = { "idempotency-key": "anon-limited" };
    const refused = await api.post("/api/holds", { product_id: limited, qty: 1 }, key);
    expectUnauthorized(refused);
    // A 401 is not remembered: the key is free again.
    const [keys] = await rows<{ n: number }>(
      ctx.sql,
      "SELECT COUNT(*) AS n FROM idempotency_keys WHERE idempotency_key = 'anon-limited'",
    );
    expect(Number(keys?.n)).toBe(0);
    expect((await api.get(`/api/products/${limited}`)).body.available).toBe(10);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("limits under concurrency, over two processes", () => {
  const { ctx, apis } = useServers(2, HS256);

  test("one buyer firing 60 concurrent holds at max_per_buyer 3 → exactly 3 granted", async () => {
    const productId = await limitedProduct(apis[0] as Client, 1000, 3);
    const me = bearer(await hs256({ sub: "bot" }));
    const replies = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (apis[i % 2] as Client).post("/api/holds", { product_id: productId, qty: 1 }, me),
      ),
    );
    console.info(
      `one buyer, 60 holds at limit 3: ${JSON.stringify(countBy(replies, (r) => r.status))}`,
    );
    expect(countBy(replies, (r) => r.status)).toEqual({ "201": 3, "409": 57 });
    for (const r of replies.filter((r) => r.status === 409)) {
      expect(r.body).toMatchObject({ code: "buyer_limit_exceeded", limit: 3, used: 3 });
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("80 buyers each firing holds of 1, 1, 2 and 1 at once, limit 3 → every buyer ends with exactly 3", async () => {
    const productId = await limitedProduct(apis[0] as Client, 10_000, 3);
    const buyers = await Promise.all(
      Array.from({ length: 80 }, async (_, b) => bearer(await hs256({ sub: `buyer-${b}` }))),
    );
    const replies = await Promise.all(
      buyers.flatMap((me, b) =>
        [1, 1, 2, 1].map((qty, i) =>
          (apis[(b + i) % 2] as Client).post("/api/holds", { product_id: productId, qty }, me),
        ),
      ),
    );
    const perBuyer = await rows<{ buyer_id: Buffer; units: string }>(
      ctx.sql,
      "SELECT buyer_id, SUM(qty) AS units FROM holds WHERE product_id = ? AND status = 'active' GROUP BY buyer_id",
      [productId],
    );
    console.info(
      `80 buyers × (1, 1, 2, 1) at limit 3: ${JSON.stringify(countBy(replies, (r) => r.status))}; units per buyer ${JSON.stringify(countBy(perBuyer, (r) => Number(r.units)))}`,
    );
    expect(perBuyer).toHaveLength(80);
    expect(perBuyer.every((r) => Number(r.units) === 3)).toBe(true);
    expect(replies.every((r) => r.status === 201 || r.body.code === "buyer_limit_exceeded")).toBe(
      true,
    );
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
