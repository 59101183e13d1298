import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Cron } from "croner";
import { startSweeper } from "../src/jobs/sweeper";
import { backoffMs, purgeDeliveredEvents } from "../src/services/merchant-events";
import { cancelUnpaidOrders } from "../src/services/orders";
import { admin, client, type Json, patience } from "./helpers/fixtures";
import { createTestContext, rows, type TestContext } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import {
  allDelivered,
  type FeedEvent,
  feed,
  newOrder,
  orderViolations,
  useMerchantContext,
} from "./helpers/merchant-events";
import { key, pay } from "./helpers/payments";

describe("merchant events: what is sent", () => {
  const use = useMerchantContext({ MERCHANT_WEBHOOK_MAX_ATTEMPTS: "50" });

  test("each event type, signed, with the order's data as GET /api/orders/:id shows it", async () => {
    const { ctx, api, receiver } = use();
    const paid = await newOrder(api);
    expect((await pay(api, paid, "succeeded", key())).status).toBe(200);
    const failed = await newOrder(api);
    expect((await pay(api, failed, "failed", key())).status).toBe(200);
    const conflictKey = key();
    const conflict = await pay(api, paid, "failed", conflictKey);
    expect(conflict.body.conflict).toBe(true);
    const timedOut = await newOrder(api);
    await ctx.sql.query("UPDATE orders SET created_at = NOW(3) - INTERVAL 1 DAY WHERE id = ?", [
      timedOut,
    ]);
    expect(await cancelUnpaidOrders(ctx.deps, 100, patience())).toBe(1);
    // A payment that outran its order: the order is born paid, and has both events.
    const [next] = await rows<{ id: number }>(ctx.sql, "SELECT MAX(id) + 1 AS id FROM orders");
    const bornPaid = Number(next?.id);
    expect((await pay(api, bornPaid, "succeeded", key())).status).toBe(202);
    expect(await newOrder(api)).toBe(bornPaid);

    const events = await allDelivered(api, receiver);
    expect(receiver.badSignatures).toBe(0);
    const sent = (type: string, orderId: number) => {
      const matching = events.filter((e) => e.type === type && e.order_id === orderId);
      expect(matching).toHaveLength(1);
      const event = matching[0] as FeedEvent;
      const delivery = receiver.accepted().find((d) => d.id === String(event.id));
      // The envelope: the event's type, when it happened, and the feed's data.
      expect(delivery).toMatchObject({ type, timestamp: event.created_at, data: event.data });
      return event.data;
    };
    const order = async (id: number) => (await api.get(`/api/orders/${id}`)).body;

    const paidNow = await order(paid);
    expect(sent("order.created", paid)).toEqual({ ...paidNow, status: "pending" });
    expect(sent("order.paid", paid)).toEqual(paidNow);
    const failedNow = await order(failed);
    expect(sent("order.created", failed)).toEqual({ ...failedNow, status: "pending" });
    expect(sent("order.cancelled", failed)).toEqual({ ...failedNow, reason: "payment_failed" });
    expect(sent("order.cancelled", timedOut)).toEqual({
      ...(await order(timedOut)),
      reason: "payment_timeout",
    });
    const bornNow = await order(bornPaid);
    expect(bornNow.status).toBe("paid");
    expect(sent("order.created", bornPaid)).toEqual({ ...bornNow, status: "pending" });
    expect(sent("order.paid", bornPaid)).toEqual(bornNow);
    const listed = await api.get("/api/admin/payment-conflicts", admin);
    const shown = (listed.body.conflicts as Json[]).find((c) => c.idempotency_key === conflictKey);
    expect(shown).toBeDefined();
    expect(sent("payment.conflict", paid)).toEqual(shown as Json);
    expect(orderViolations(events, receiver)).toEqual([]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);

    const metrics = await (await ctx.app.request("/metrics")).text();
    expect(metrics).toMatch(/merchant_webhook_deliveries_total\{result="delivered"\} [1-9]/);
  });

  test("a receiver answering 500, then hanging past the timeout, then down, then fine: everything arrives, each order's events in order, one webhook-id per event", async () => {
    const { api, receiver } = use();
    const before = (await feed(api)).length;
    const orders: number[] = [];
    const sale = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const orderId = await newOrder(api);
        orders.push(orderId);
        await pay(api, orderId, i % 2 ? "failed" : "succeeded", key());
      }
    };
    const seen = () => receiver.deliveries.length;

    receiver.behaviour = () => "fail";
    let mark = seen();
    await sale(2);
    await receiver.until((r) => r.deliveries.length >= mark + 3);

    receiver.behaviour = () => "hang";
    mark = seen();
    await sale(2);
    await receiver.until((r) => r.deliveries.length >= mark + 2);

    await receiver.stop();
    await sale(2);
    const refused = async () =>
      (await feed(api, "&delivery=pending")).some((e) =>
        e.delivery.last_error?.startsWith("request failed"),
      );
    for (let i = 0; i < 200 && !(await refused()); i++) await Bun.sleep(20);
    expect(await refused()).toBe(true);

    receiver.behaviour = () => "ok";
    receiver.start();
    const events = await allDelivered(api, receiver);
    expect(events.length).toBe(before + orders.length * 2);
    expect(receiver.badSignatures).toBe(0);
    expect(orderViolations(events, receiver)).toEqual([]);
    // Retries carry the event's id and envelope unchanged: one webhook-id per event.
    for (const e of events) {
      const copies = receiver.deliveries.filter((d) => d.id === String(e.id));
      expect(copies.length).toBeGreaterThan(0);
      for (const copy of copies) {
        expect(copy.type).toBe(e.type);
        expect(copy.timestamp).toBe(e.created_at);
        expect(copy.data).toEqual(e.data);
      }
    }
    const retried = events.filter(
      (e) => receiver.deliveries.filter((d) => d.id === String(e.id)).length > 1,
    );
    expect(retried.length).toBeGreaterThan(0);
    expect(receiver.maxOverlap).toBe(1);
  });
});

describe("retention", () => {
  const use = useMerchantContext({ MERCHANT_EVENT_RETENTION_DAYS: "30" });

  test("the sweeper's step purges events delivered more than MERCHANT_EVENT_RETENTION_DAYS ago, and only those", async () => {
    const { ctx, api, receiver } = use();
    for (let i = 0; i < 3; i++) await newOrder(api);
    await allDelivered(api, receiver);
    const [first, second, third] = await feed(api);
    if (!first || !second || !third) throw new Error("three events expected");
    await ctx.sql.query(
      "UPDATE merchant_events SET delivered_at = NOW(3) - INTERVAL 31 DAY WHERE id = ?",
      [first.id],
    );
    await ctx.sql.query(
      "UPDATE merchant_events SET delivered_at = NOW(3) - INTERVAL 29 DAY WHERE id = ?",
      [second.id],
    );
    // Undelivered events are kept however old.
    await ctx.sql.query(
      "UPDATE merchant_events SET delivery_status = 'failed', created_at = NOW(3) - INTERVAL 90 DAY WHERE id = ?",
      [third.id],
    );
    expect(await purgeDeliveredEvents(ctx.deps, 100, patience())).toBe(1);
    expect((await feed(api)).map((e) => e.id)).toEqual([second.id, third.id]);
  });
});

describe("merchant events recorded while no process has MERCHANT_WEBHOOK_URL", () => {
  let ctx: TestContext;
  let sweeper: Cron;
  beforeAll(async () => {
    ctx = await createTestContext();
    sweeper = startSweeper(ctx.deps);
  });
  afterAll(async () => {
    sweeper.stop();
    await ctx.close();
  });

  test("the sweeper purges those never sent MERCHANT_EVENT_RETENTION_DAYS after they happened, and only those", async () => {
    const api = client(ctx.app);
    for (let i = 0; i < 4; i++) await newOrder(api);
    const ids = (
      await rows<{ id: number }>(ctx.sql, "SELECT id FROM merchant_events ORDER BY id")
    ).map((r) => r.id);
    const [old, recent, claimed, delivered] = ids;
    const age = (id: number | undefined, days: number, set = "") =>
      ctx.sql.query(
        `UPDATE merchant_events SET created_at = NOW(3) - INTERVAL ? DAY${set} WHERE id = ?`,
        [days, id],
      );
    await age(old, 31);
    await age(recent, 29);
    // Claimed once by a process with the URL (and redelivered since): kept for that process.
    await age(claimed, 90, ", lease_until = NOW(3) - INTERVAL 89 DAY");
    await age(
      delivered,
      10,
      ", delivery_status = 'delivered', delivered_at = NOW(3) - INTERVAL 9 DAY",
    );
    const end = Date.now() + 10_000;
    let left = ids;
    while (left.includes(old as number) && Date.now() < end) {
      await Bun.sleep(200);
      left = (
        await rows<{ id: number }>(ctx.sql, "SELECT id FROM merchant_events ORDER BY id")
      ).map((r) => r.id);
    }
    expect(left).toEqual([recent, claimed, delivered].map(Number));
  });
});

describe("backoff", () => {
  const config = { MERCHANT_WEBHOOK_BACKOFF_MS: 1000, MERCHANT_WEBHOOK_BACKOFF_MAX_MS: 300_000 };

  test("from 1 s, doubling, at most 5 min, jitter taking off at most a quarter", () => {
    expect([1, 2, 3, 4].map((n) => backoffMs(n, config, 0))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(9, config, 0)).toBe(256_000);
    expect(backoffMs(10, config, 0)).toBe(300_000);
    expect(backoffMs(1000, config, 0)).toBe(300_000);
    expect(backoffMs(1, config, 1)).toBe(750);
    expect(backoffMs(12, config, 0.5)).toBe(262_500);
  });
});
