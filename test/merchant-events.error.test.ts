import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { expectProblem } from "./helpers/contract";
import { admin, client, type Json } from "./helpers/fixtures";
import { count, createTestContext, rows, type TestContext } from "./helpers/harness";
import {
  allDelivered,
  feed,
  newOrder,
  orderViolations,
  useMerchantContext,
} from "./helpers/merchant-events";
import { MERCHANT_SECRET, MerchantReceiver } from "./helpers/merchant-receiver";
import { key, pay } from "./helpers/payments";
import { type ServerProcess, startServer } from "./helpers/processes";

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
    // The dispatcher records the failure, then gives the later event back in a statement of its
    // own: the claim is over once no event of the order holds a lease (lapsed ones keep theirs).
    const leasedNow = () =>
      count(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM merchant_events WHERE order_id = ? AND lease_token IS NOT NULL",
        [bornPaid],
      );
    const claimOver = async () => (await failedNow()) && (await leasedNow()) === 0;
    for (let i = 0; i < 500 && !(await claimOver()); i++) await Bun.sleep(20);
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
    expectProblem(reply, 404, {
      title: "Event not found",
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
