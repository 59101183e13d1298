import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { batching, countBy, createHold, createProduct } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { invariantViolations, ordersOfHold } from "./helpers/invariants";

// The same races with one transaction per request and with group reservation (small batches,
// and the default): all must hold.
describe.each([["1"], ["64"], ["default"]])("races with HOLD_BATCH_MAX=%s", (batchMax) => {
  const { ctx, api } = useServedApp(batching(batchMax));

  test("300 concurrent holds of 1 at stock 50: exactly 50 granted", async () => {
    const productId = await createProduct(api, 50);
    const replies = await Promise.all(
      Array.from({ length: 300 }, () => api.post("/api/holds", { product_id: productId, qty: 1 })),
    );
    expect(countBy(replies, (r) => r.status)).toEqual({ "201": 50, "409": 250 });
    for (const r of replies.filter((r) => r.status === 409)) {
      expect(r.body).toMatchObject({ code: "insufficient_stock", available: 0 });
    }
    const [held] = await rows<{ n: number; units: string }>(
      ctx.sql,
      "SELECT COUNT(*) AS n, SUM(qty) AS units FROM holds WHERE product_id = ? AND status = 'active'",
      [productId],
    );
    expect(held).toEqual({ n: 50, units: "50" });
    expect((await api.get(`/api/products/${productId}`)).body).toMatchObject({
      stock_reserved: 50,
      available: 0,
    });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("mixed quantities 1..5 at stock 37: never oversold, every refusal honest", async () => {
    const productId = await createProduct(api, 37);
    const quantities = Array.from({ length: 120 }, (_, i) => (i % 5) + 1);
    const replies = await Promise.all(
      quantities.map((qty) => api.post("/api/holds", { product_id: productId, qty })),
    );
    const granted = replies
      .filter((r) => r.status === 201)
      .reduce((sum, r) => sum + (r.body.qty as number), 0);
    expect(replies.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    expect(granted).toBeLessThanOrEqual(37);
    // Whatever is left is smaller than the smallest refused request, or nothing was refused.
    const refusedQty = replies.flatMap((r, i) => (r.status === 409 ? [quantities[i] ?? 0] : []));
    expect(37 - granted).toBeLessThan(Math.min(...refusedQty));
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("20 concurrent orders on one hold: exactly one order", async () => {
    const productId = await createProduct(api, 10);
    const holdId = await createHold(api, productId, 3);
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => api.post("/api/orders", { hold_id: holdId })),
    );
    expect(countBy(replies, (r) => r.status)).toEqual({ "201": 1, "409": 19 });
    const orderId = replies.find((r) => r.status === 201)?.body.order_id;
    for (const r of replies.filter((r) => r.status === 409)) {
      expect(r.body).toMatchObject({ code: "hold_already_used", order_id: orderId });
    }
    expect(await ordersOfHold(ctx.sql, holdId)).toBe(1);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("concurrent release and order on one hold: one wins, the other gets the right error", async () => {
    const productId = await createProduct(api, 100);
    const outcomes: string[] = [];
    for (let round = 0; round < 15; round++) {
      const holdId = await createHold(api, productId, 2);
      const [release, order] = await Promise.all([
        api.delete(`/api/holds/${holdId}`),
        api.post("/api/orders", { hold_id: holdId }),
      ]);
      if (order.status === 201) {
        expect(release.status).toBe(409);
        expect(release.body).toMatchObject({
          code: "hold_already_used",
          order_id: order.body.order_id,
        });
        outcomes.push("order");
      } else {
        expect(release.status).toBe(200);
        expect(release.body.status).toBe("released");
        expect(order.status).toBe(410);
        expect(order.body.code).toBe("hold_released");
        outcomes.push("release");
      }
    }
    expect(outcomes).toHaveLength(15);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("holds across many products at once stay consistent", async () => {
    const products = await Promise.all(Array.from({ length: 5 }, () => createProduct(api, 20)));
    const replies = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        api.post("/api/holds", { product_id: products[i % 5], qty: 1 }),
      ),
    );
    expect(countBy(replies, (r) => r.status)).toEqual({ "201": 100, "409": 100 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
