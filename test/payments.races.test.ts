import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { countBy, createHold, createProduct } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { event, nextOrderId, pendingOrder } from "./helpers/payments";

const { ctx, api } = useServedApp();

describe("races", () => {
  test("50 concurrent identical webhooks → one event row, one state change", async () => {
    const { orderId, productId } = await pendingOrder(api, 2, 10);
    const body = event(orderId, "failed");
    const replies = await Promise.all(Array.from({ length: 50 }, () => api.webhook(body)));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(countBy(replies, (r) => `${r.body.applied}/${r.body.duplicate}`)).toEqual({
      "true/false": 1,
      "false/true": 49,
    });
    expect(replies.every((r) => r.body.order_status === "cancelled")).toBe(true);
    const [count] = await rows<{ n: number }>(
      ctx.sql,
      "SELECT COUNT(*) AS n FROM payment_events WHERE idempotency_key = ?",
      [body.idempotency_key],
    );
    expect(count?.n).toBe(1);
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(10);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("concurrent succeeded and failed with different keys → exactly one applied", async () => {
    for (let round = 0; round < 10; round++) {
      const { orderId } = await pendingOrder(api, 1, 5);
      const replies = await Promise.all([
        api.webhook(event(orderId, "succeeded")),
        api.webhook(event(orderId, "failed")),
      ]);
      expect(replies.filter((r) => r.body.applied === true)).toHaveLength(1);
      expect(replies.filter((r) => r.body.conflict === true)).toHaveLength(1);
      const final = (await api.get(`/api/orders/${orderId}`)).body.status;
      expect(replies.every((r) => r.body.order_status === final)).toBe(true);
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a webhook fired together with the request creating its order, 20 times → right final state", async () => {
    for (let round = 0; round < 20; round++) {
      const status = round % 2 === 0 ? "succeeded" : "failed";
      const productId = await createProduct(api, 5);
      const holdId = await createHold(api, productId, 2);
      const orderId = await nextOrderId(ctx.sql);
      const [hook, order] = await Promise.all([
        api.webhook(event(orderId, status)),
        api.post("/api/orders", { hold_id: holdId }),
      ]);
      expect(order.status).toBe(201);
      expect(order.body.order_id).toBe(orderId);
      expect([200, 202]).toContain(hook.status);
      const expected = status === "succeeded" ? "paid" : "cancelled";
      expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe(expected);
      expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(
        status === "succeeded" ? 3 : 5,
      );
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
