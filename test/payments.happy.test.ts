import { describe, expect, test } from "bun:test";
import { cancelUnpaidOrders } from "../src/services/orders";
import { applyStrandedEvents, purgeDeferredEvents } from "../src/services/payments";
import { useServedApp } from "./helpers/apps";
import { createHold, createProduct, patience } from "./helpers/fixtures";
import { count, rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import {
  event,
  expectAnswer,
  expectAnswerBody,
  nextOrderId,
  pendingOrder,
} from "./helpers/payments";

const { ctx, api } = useServedApp();

describe("contract rows", () => {
  test("pending + succeeded → paid, applied", async () => {
    const { orderId } = await pendingOrder(api);
    const res = await api.webhook(event(orderId, "succeeded"));
    expectAnswer(res, 200, orderId, "paid", "applied");
    expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe("paid");
  });

  test("pending + failed → cancelled, units back in stock_available", async () => {
    const { orderId, productId } = await pendingOrder(api, 3, 10);
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(7);
    const res = await api.webhook(event(orderId, "failed"));
    expectAnswer(res, 200, orderId, "cancelled", "applied");
    expect((await api.get(`/api/products/${productId}`)).body).toMatchObject({
      stock_available: 10,
      available: 10,
    });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("same key, same body → duplicate with the current status, nothing changes", async () => {
    const { orderId } = await pendingOrder(api);
    const body = event(orderId, "succeeded");
    await api.webhook(body);
    const again = await api.webhook(body);
    expectAnswer(again, 200, orderId, "paid", "duplicate");
  });

  test("keys are case-sensitive: evt_A and evt_a are two events", async () => {
    const first = await pendingOrder(api);
    const second = await pendingOrder(api);
    const suffix = Math.random().toString(36).slice(2);
    const a = await api.webhook(event(first.orderId, "succeeded", `evt_A${suffix}`));
    const b = await api.webhook(event(second.orderId, "succeeded", `evt_a${suffix}`));
    expect([a.body.applied, b.body.applied]).toEqual([true, true]);
  });

  test("same key, different body → 422 idempotency_key_reused", async () => {
    const { orderId } = await pendingOrder(api);
    const first = event(orderId, "succeeded");
    await api.webhook(first);
    const res = await api.webhook({ ...first, status: "failed" });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: "idempotency_key_reused", status: 422 });
    expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe("paid");
  });

  test("new key on a final order: recorded, not applied; conflict where it disagrees", async () => {
    const { orderId, productId } = await pendingOrder(api);
    await api.webhook(event(orderId, "succeeded"));
    const agreeing = await api.webhook(event(orderId, "succeeded"));
    expectAnswerBody(agreeing.body, orderId, "paid", "duplicate-state");
    const disagreeing = await api.webhook(event(orderId, "failed"));
    expectAnswer(disagreeing, 200, orderId, "paid", "conflict");
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(8);
    const recorded = await rows<{ outcome: string }>(
      ctx.sql,
      "SELECT outcome FROM payment_events WHERE order_id = ? ORDER BY id",
      [orderId],
    );
    expect(recorded.map((r) => r.outcome)).toEqual(["applied", "duplicate-state", "conflict"]);
  });

  test("succeeded after a payment-timeout cancel is a conflict; no stock is taken again", async () => {
    const { orderId, productId } = await pendingOrder(api, 2, 10);
    await ctx.sql.query("UPDATE orders SET created_at = NOW(3) - INTERVAL 1 HOUR WHERE id = ?", [
      orderId,
    ]);
    expect(await cancelUnpaidOrders(ctx.deps, 100, patience())).toBe(1);
    const res = await api.webhook(event(orderId, "succeeded"));
    expectAnswerBody(res.body, orderId, "cancelled", "conflict");
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(10);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("unknown order → 202 deferred; the order is born paid", async () => {
    const productId = await createProduct(api, 10);
    const holdId = await createHold(api, productId, 2);
    const orderId = await nextOrderId(ctx.sql);
    const deferred = await api.webhook(event(orderId, "succeeded"));
    expectAnswer(deferred, 202, orderId, null, "deferred");
    const order = await api.post("/api/orders", { hold_id: holdId });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ order_id: orderId, status: "paid" });
    const [recorded] = await rows<{ outcome: string }>(
      ctx.sql,
      "SELECT outcome FROM payment_events WHERE order_id = ?",
      [orderId],
    );
    expect(recorded?.outcome).toBe("applied");
  });

  test("a deferred failed → the order is born cancelled and its units are back", async () => {
    const productId = await createProduct(api, 10);
    const holdId = await createHold(api, productId, 4);
    const orderId = await nextOrderId(ctx.sql);
    expect((await api.webhook(event(orderId, "failed"))).status).toBe(202);
    const order = await api.post("/api/orders", { hold_id: holdId });
    expect(order.body).toMatchObject({ order_id: orderId, status: "cancelled" });
    expect((await api.get(`/api/products/${productId}`)).body).toMatchObject({
      stock_available: 10,
      stock_reserved: 0,
      available: 10,
    });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("payment events stranded beside their order (Galera's race), applied by the sweeper", () => {
  test.each([
    ["succeeded", "paid", 0],
    ["failed", "cancelled", 2],
  ] as const)("a deferred %s event for an existing order → %s", async (status, final, back) => {
    const { orderId, productId } = await pendingOrder(api, 2, 10);
    const available = () =>
      count(ctx.sql, "SELECT stock_available AS n FROM products WHERE id = ?", [productId]);
    const before = await available();
    // What two Galera nodes can leave: the event stored as deferred, the order already there.
    await ctx.sql.query(
      "INSERT INTO payment_events (idempotency_key, order_id, status, fingerprint, outcome) VALUES (?, ?, ?, ?, 'deferred')",
      [`stranded-${orderId}`, orderId, status, "0".repeat(64)],
    );
    expect(await applyStrandedEvents(ctx.deps, 100, patience())).toBe(1);
    expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe(final);
    const [event] = await rows<{ outcome: string }>(
      ctx.sql,
      "SELECT outcome FROM payment_events WHERE idempotency_key = ?",
      [`stranded-${orderId}`],
    );
    expect(event?.outcome).toBe("applied");
    expect((await available()) - before).toBe(back);
    expect(await applyStrandedEvents(ctx.deps, 100, patience())).toBe(0);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

/** What an attacker tries: no signature, or a wrong one, for a pending order and for the next id. */
describe("deferred events expire (DEFERRED_EVENT_TTL_HOURS)", () => {
  test("a deferred event whose order never appeared is purged after the TTL; a younger one is kept", async () => {
    const ids = [9_000_000_001, 9_000_000_002];
    for (const orderId of ids) {
      expect((await api.webhook(event(orderId, "succeeded", `ttl-${orderId}`))).status).toBe(202);
    }
    // 73 and 71 hours old: one past the default 72, one not yet.
    await ctx.sql.query(
      "UPDATE payment_events SET received_at = NOW(3) - INTERVAL 73 HOUR WHERE order_id = ?",
      [ids[0]],
    );
    await ctx.sql.query(
      "UPDATE payment_events SET received_at = NOW(3) - INTERVAL 71 HOUR WHERE order_id = ?",
      [ids[1]],
    );
    expect(await purgeDeferredEvents(ctx.deps, 100, patience())).toBe(1);
    const left = await rows<{ order_id: number }>(
      ctx.sql,
      "SELECT order_id FROM payment_events WHERE order_id IN (?, ?)",
      ids,
    );
    expect(left.map((r) => Number(r.order_id))).toEqual([ids[1] as number]);
    expect(await purgeDeferredEvents(ctx.deps, 100, patience())).toBe(0);
  });

  test("an old deferred event beside its order is left for the sweeper to apply, not purged", async () => {
    const { orderId } = await pendingOrder(api, 1, 5);
    await ctx.sql.query(
      "INSERT INTO payment_events (idempotency_key, order_id, status, fingerprint, outcome, received_at) VALUES (?, ?, 'succeeded', ?, 'deferred', NOW(3) - INTERVAL 100 HOUR)",
      [`old-stranded-${orderId}`, orderId, "0".repeat(64)],
    );
    expect(await purgeDeferredEvents(ctx.deps, 100, patience())).toBe(0);
    expect(await applyStrandedEvents(ctx.deps, 100, patience())).toBe(1);
    expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe("paid");
  });
});
