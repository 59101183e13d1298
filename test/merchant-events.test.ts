import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  backoffMs,
  type MerchantDispatcher,
  startMerchantDispatcher,
} from "../src/jobs/merchant-dispatcher";
import { purgeDeliveredEvents } from "../src/services/merchant-events";
import { cancelUnpaidOrders } from "../src/services/orders";
import {
  admin,
  type Client,
  client,
  createHold,
  createOrder,
  createProduct,
  patience,
} from "./fixtures";
import {
  createTestContext,
  invariantViolations,
  type Running,
  rows,
  serve,
  type TestContext,
} from "./helpers/harness";
import { MERCHANT_SECRET, MerchantReceiver } from "./helpers/merchant-receiver";
import { type ServerProcess, startServer } from "./helpers/processes";

type Json = Record<string, unknown>;
type FeedEvent = {
  id: number;
  type: string;
  order_id: number;
  created_at: string;
  data: Json;
  delivery: {
    status: string;
    attempts: number;
    last_error: string | null;
    next_attempt_at: string | null;
    delivered_at: string | null;
  };
};

const pay = (api: Client, orderId: number, status: "succeeded" | "failed", key: string) =>
  api.webhook({ idempotency_key: key, order_id: orderId, status });

let keys = 0;
const key = () => `pay_${++keys}_${Math.random().toString(36).slice(2)}`;

async function feed(api: Client, query = ""): Promise<FeedEvent[]> {
  const events: FeedEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await api.get(`/api/admin/events?limit=1000&after_id=${after}${query}`, admin);
    if (page.status !== 200) throw new Error(`feed: ${JSON.stringify(page.body)}`);
    events.push(...(page.body.events as FeedEvent[]));
    if (page.body.next_after_id === null) return events;
    after = page.body.next_after_id as number;
  }
}

async function newOrder(api: Client): Promise<number> {
  const productId = await createProduct(api, 10);
  return createOrder(api, await createHold(api, productId, 2));
}

/** Waits until every recorded event is delivered and the receiver accepted each. */
async function allDelivered(api: Client, receiver: MerchantReceiver): Promise<FeedEvent[]> {
  const end = Date.now() + 30_000;
  for (;;) {
    const events = await feed(api);
    const accepted = new Set(receiver.accepted().map((d) => d.id));
    if (events.every((e) => e.delivery.status === "delivered" && accepted.has(String(e.id)))) {
      return events;
    }
    if (Date.now() > end) throw new Error("events still undelivered");
    await Bun.sleep(50);
  }
}

/**
 * For each order, every delivery of a later order event came after an earlier one was
 * accepted; returns the violations.
 */
function orderViolations(events: FeedEvent[], receiver: MerchantReceiver): string[] {
  const problems: string[] = [];
  const firstAccepted = (id: number) =>
    receiver.deliveries.findIndex((d) => d.id === String(id) && d.answered === 200);
  const byOrder = new Map<number, FeedEvent[]>();
  for (const e of events.filter((e) => e.type.startsWith("order."))) {
    byOrder.set(e.order_id, [...(byOrder.get(e.order_id) ?? []), e]);
  }
  for (const [orderId, list] of byOrder) {
    for (let i = 1; i < list.length; i++) {
      const earlier = firstAccepted((list[i - 1] as FeedEvent).id);
      const later = list[i] as FeedEvent;
      const firstSent = receiver.deliveries.findIndex((d) => d.id === String(later.id));
      if (earlier < 0 || firstSent < earlier) {
        problems.push(`order ${orderId}: ${later.type} sent before its earlier event arrived`);
      }
    }
  }
  return problems;
}

type MerchantContext = {
  ctx: TestContext;
  api: Client;
  receiver: MerchantReceiver;
  dispatcher: MerchantDispatcher;
};

/** A fresh database, the app on a socket, a receiver, and this process's dispatcher. */
function useMerchantContext(env: Record<string, string>): () => MerchantContext {
  let made: MerchantContext | undefined;
  let running: Running | undefined;
  beforeAll(async () => {
    const receiver = new MerchantReceiver().start();
    const ctx = await createTestContext({
      MERCHANT_WEBHOOK_URL: receiver.url(),
      MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
      MERCHANT_WEBHOOK_POLL_MS: "20",
      MERCHANT_WEBHOOK_BACKOFF_MS: "20",
      MERCHANT_WEBHOOK_BACKOFF_MAX_MS: "200",
      MERCHANT_WEBHOOK_TIMEOUT_MS: "300",
      ...env,
    });
    running = serve(ctx.app);
    const dispatcher = startMerchantDispatcher(ctx.deps);
    if (!dispatcher) throw new Error("no dispatcher with a URL set");
    made = { ctx, api: client(running.baseUrl), receiver, dispatcher };
  });
  afterAll(async () => {
    await made?.dispatcher.stop();
    await made?.receiver.stop();
    await running?.stop();
    await made?.ctx.close();
  });
  return () => {
    if (!made) throw new Error("useMerchantContext: used outside a test");
    return made;
  };
}

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

describe("merchant events: the last attempt fails, the operator redelivers", () => {
  const use = useMerchantContext({ MERCHANT_WEBHOOK_MAX_ATTEMPTS: "2" });

  test("failed after MERCHANT_WEBHOOK_MAX_ATTEMPTS, holding back its order's later events; redelivered, both arrive in order", async () => {
    const { ctx, api, receiver } = use();
    // Everything fails until the stuck order is known, then only its events do.
    let stuck = 0;
    receiver.behaviour = (d) => (stuck === 0 || d.data.order_id === stuck ? "fail" : "ok");
    stuck = await newOrder(api);
    const [created] = await feed(api);
    if (!created) throw new Error("no event for the new order");
    const failedOne = async () => (await feed(api, "&delivery=failed")).map((e) => e.id);
    for (let i = 0; i < 500 && (await failedOne()).length === 0; i++) await Bun.sleep(20);
    expect(await failedOne()).toEqual([created.id]);
    const [failed] = await feed(api, "&delivery=failed");
    expect(failed?.delivery).toEqual({
      status: "failed",
      attempts: 2,
      last_error: "HTTP 500",
      next_attempt_at: null,
      delivered_at: null,
    });
    expect(receiver.deliveries.filter((d) => d.id === String(created.id))).toHaveLength(2);

    await pay(api, stuck, "succeeded", key());
    // Another order's events go out; the stuck order's order.paid waits behind its failed one.
    const other = await newOrder(api);
    await receiver.until((r) => r.accepted().some((d) => d.data.order_id === other));
    const paidEvent = (await feed(api)).find((e) => e.type === "order.paid");
    expect(paidEvent?.delivery).toMatchObject({ status: "pending", attempts: 0 });
    expect(receiver.deliveries.some((d) => d.id === String(paidEvent?.id))).toBe(false);

    const metrics = await (await ctx.app.request("/metrics")).text();
    expect(metrics).toMatch(/merchant_webhook_deliveries_total\{result="failed"\} 1\b/);
    expect(metrics).toMatch(/merchant_webhook_deliveries_total\{result="retry"\} 1\b/);
    // The failed event is the oldest undelivered one: the dispatcher reports its age each second.
    const oldest = async () =>
      Number(
        /^merchant_events_oldest_undelivered_seconds (\S+)$/m.exec(
          await (await ctx.app.request("/metrics")).text(),
        )?.[1],
      );
    for (let i = 0; i < 100 && !((await oldest()) > 0); i++) await Bun.sleep(50);
    expect(await oldest()).toBeGreaterThan(0);

    receiver.behaviour = () => "ok";
    const again = await api.post(`/api/admin/events/${created.id}/redeliver`, {}, admin);
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id: created.id, type: "order.created", order_id: stuck });
    expect((again.body as { delivery: Json }).delivery).toMatchObject({
      status: "pending",
      attempts: 0,
      last_error: null,
      delivered_at: null,
    });
    const events = await allDelivered(api, receiver);
    expect(orderViolations(events, receiver)).toEqual([]);
  });

  test("an order's events claimed together: the first refused, the later one goes back unsent, no attempt counted", async () => {
    const { ctx, api, receiver } = use();
    receiver.behaviour = () => "ok";
    // An order born paid: its order.created and order.paid commit together, one claim takes both.
    const [next] = await rows<{ id: number }>(ctx.sql, "SELECT MAX(id) + 1 AS id FROM orders");
    const bornPaid = Number(next?.id);
    receiver.behaviour = (d) => (d.data.order_id === bornPaid ? "fail" : "ok");
    expect((await pay(api, bornPaid, "succeeded", key())).status).toBe(202);
    expect(await newOrder(api)).toBe(bornPaid);
    const ofOrder = async () => (await feed(api)).filter((e) => e.order_id === bornPaid);
    const failedNow = async () =>
      (await ofOrder()).some((e) => e.type === "order.created" && e.delivery.status === "failed");
    for (let i = 0; i < 500 && !(await failedNow()); i++) await Bun.sleep(20);
    const [created, paid] = await ofOrder();
    expect(created).toMatchObject({ type: "order.created" });
    expect(created?.delivery).toMatchObject({ status: "failed", attempts: 2 });
    expect(paid).toMatchObject({ type: "order.paid" });
    expect(paid?.delivery).toMatchObject({ status: "pending", attempts: 0, last_error: null });
    expect(receiver.deliveries.some((d) => d.id === String(paid?.id))).toBe(false);
    const [lease] = await rows<{ leased: number }>(
      ctx.sql,
      "SELECT COUNT(*) AS leased FROM merchant_events WHERE id = ? AND lease_token IS NOT NULL",
      [paid?.id],
    );
    expect(Number(lease?.leased)).toBe(0);

    receiver.behaviour = () => "ok";
    expect((await api.post(`/api/admin/events/${created?.id}/redeliver`, {}, admin)).status).toBe(
      202,
    );
    const events = await allDelivered(api, receiver);
    expect(orderViolations(events, receiver)).toEqual([]);
    expect(events.find((e) => e.id === paid?.id)?.delivery).toMatchObject({ attempts: 1 });
  });

  test("redelivering an unknown event is a 404 event_not_found", async () => {
    const { api } = use();
    const reply = await api.post("/api/admin/events/999999/redeliver", {}, admin);
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({
      type: "about:blank",
      title: "Event not found",
      status: 404,
      code: "event_not_found",
      detail: "Merchant event 999999 does not exist.",
    });
  });
});

describe("merchant events: two processes, a delivery cut short by SIGKILL or SIGTERM", () => {
  let ctx: TestContext;
  const receiver = new MerchantReceiver();
  const servers = new Map<string, ServerProcess>();

  beforeAll(async () => {
    receiver.start();
    ctx = await createTestContext();
    const env = (via: string) => ({
      MERCHANT_WEBHOOK_URL: receiver.url(via),
      MERCHANT_WEBHOOK_SECRET: MERCHANT_SECRET,
      MERCHANT_WEBHOOK_TIMEOUT_MS: "3000",
      MERCHANT_WEBHOOK_POLL_MS: "50",
    });
    const [a, b] = await Promise.all([
      startServer(ctx.url, env("a")),
      startServer(ctx.url, env("b")),
    ]);
    servers.set("a", a);
    servers.set("b", b);
  });
  afterAll(async () => {
    for (const server of servers.values()) await server.stop("SIGKILL");
    await receiver.stop();
    await ctx?.close();
  });

  test("the event is delivered by the other process, never by both at once", async () => {
    // The first attempt of every event is left hanging: its sender is then killed.
    const tried = new Set<string>();
    receiver.behaviour = (d) => {
      if (tried.has(d.id)) return "ok";
      tried.add(d.id);
      return "hang";
    };
    const api = client((servers.get("a") as ServerProcess).base);
    const orderId = await newOrder(api);
    await receiver.until((r) => r.deliveries.length > 0);
    const first = receiver.deliveries[0];
    if (!first?.via) throw new Error("the delivery did not say which process sent it");
    await servers.get(first.via)?.stop("SIGKILL");
    servers.delete(first.via);

    await receiver.until((r) => r.accepted().some((d) => d.id === first.id));
    const delivered = receiver.accepted().find((d) => d.id === first.id);
    expect(delivered?.via).not.toBe(first.via);
    expect(delivered).toMatchObject({ type: "order.created", data: { order_id: orderId } });
    expect(receiver.maxOverlap).toBe(1);
    expect(receiver.badSignatures).toBe(0);
  });

  test("SIGTERM while a delivery hangs: the process exits cleanly and hands the lease back", async () => {
    receiver.behaviour = () => "hang";
    const [via, survivor] = [...servers.entries()][0] as [string, ServerProcess];
    const before = receiver.deliveries.length;
    const orderId = await newOrder(client(survivor.base));
    await receiver.until((r) => r.deliveries.slice(before).some((d) => d.via === via));
    expect(await survivor.stop("SIGTERM")).toBe(0);
    servers.delete(via);
    const [event] = await rows<{
      delivery_status: string;
      attempts: number;
      lease_until: Date | null;
    }>(
      ctx.sql,
      "SELECT delivery_status, attempts, lease_until FROM merchant_events WHERE order_id = ?",
      [orderId],
    );
    expect(event).toEqual({ delivery_status: "pending", attempts: 1, lease_until: null });
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
