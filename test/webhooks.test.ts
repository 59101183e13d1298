import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { applyStrandedEvents, purgeDeferredEvents } from "../src/services/deferred-events";
import { cancelUnpaidOrders } from "../src/services/orders";
import {
  type Client,
  client,
  countBy,
  createHold,
  createOrder,
  createProduct,
  patience,
  webhookHeaders,
} from "./fixtures";
import {
  createTestContext,
  invariantViolations,
  rows,
  type ServedContext,
  type TestContext,
  useServedContext,
} from "./helpers/harness";

const SECRET = `whsec_${Buffer.from("flash-sale-test-secret-32-bytes!").toString("base64")}`;
const OTHER_SECRET = `whsec_${Buffer.from("some-other-secret-of-32-bytes!!!").toString("base64")}`;

const served = useServedContext();
let ctx: ServedContext;
let api: Client;

beforeAll(() => {
  ctx = served();
  api = client(ctx.baseUrl);
});

let keys = 0;
const key = () => `evt_${++keys}_${Math.random().toString(36).slice(2)}`;
const event = (orderId: number, status: "succeeded" | "failed", idempotencyKey = key()) => ({
  idempotency_key: idempotencyKey,
  order_id: orderId,
  status,
});

async function pendingOrder(qty = 2, stock = 10) {
  const productId = await createProduct(api, stock);
  const orderId = await createOrder(api, await createHold(api, productId, qty));
  return { productId, orderId };
}

async function nextOrderId(): Promise<number> {
  const [row] = await rows<{ next: number }>(
    ctx.sql,
    "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM orders",
  );
  return Number(row?.next);
}

describe("contract rows", () => {
  test("pending + succeeded → paid, applied", async () => {
    const { orderId } = await pendingOrder();
    const res = await api.webhook(event(orderId, "succeeded"));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      order_id: orderId,
      order_status: "paid",
      applied: true,
      duplicate: false,
    });
    expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe("paid");
  });

  test("pending + failed → cancelled, units back in stock_available", async () => {
    const { orderId, productId } = await pendingOrder(3, 10);
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(7);
    const res = await api.webhook(event(orderId, "failed"));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      order_id: orderId,
      order_status: "cancelled",
      applied: true,
      duplicate: false,
    });
    expect((await api.get(`/api/products/${productId}`)).body).toMatchObject({
      stock_available: 10,
      available: 10,
    });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("same key, same body → duplicate with the current status, nothing changes", async () => {
    const { orderId } = await pendingOrder();
    const body = event(orderId, "succeeded");
    await api.webhook(body);
    const again = await api.webhook(body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({
      order_id: orderId,
      order_status: "paid",
      applied: false,
      duplicate: true,
    });
  });

  test("keys are case-sensitive: evt_A and evt_a are two events", async () => {
    const first = await pendingOrder();
    const second = await pendingOrder();
    const suffix = Math.random().toString(36).slice(2);
    const a = await api.webhook(event(first.orderId, "succeeded", `evt_A${suffix}`));
    const b = await api.webhook(event(second.orderId, "succeeded", `evt_a${suffix}`));
    expect([a.body.applied, b.body.applied]).toEqual([true, true]);
  });

  test("same key, different body → 422 idempotency_key_reused", async () => {
    const { orderId } = await pendingOrder();
    const first = event(orderId, "succeeded");
    await api.webhook(first);
    const res = await api.webhook({ ...first, status: "failed" });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ code: "idempotency_key_reused", status: 422 });
    expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe("paid");
  });

  test("new key on a final order: recorded, not applied; conflict where it disagrees", async () => {
    const { orderId, productId } = await pendingOrder();
    await api.webhook(event(orderId, "succeeded"));
    const agreeing = await api.webhook(event(orderId, "succeeded"));
    expect(agreeing.body).toEqual({
      order_id: orderId,
      order_status: "paid",
      applied: false,
      duplicate: false,
    });
    const disagreeing = await api.webhook(event(orderId, "failed"));
    expect(disagreeing.status).toBe(200);
    expect(disagreeing.body).toEqual({
      order_id: orderId,
      order_status: "paid",
      applied: false,
      duplicate: false,
      conflict: true,
    });
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(8);
    const recorded = await rows<{ outcome: string }>(
      ctx.sql,
      "SELECT outcome FROM payment_events WHERE order_id = ? ORDER BY id",
      [orderId],
    );
    expect(recorded.map((r) => r.outcome)).toEqual(["applied", "duplicate-state", "conflict"]);
  });

  test("succeeded after a payment-timeout cancel is a conflict; no stock is taken again", async () => {
    const { orderId, productId } = await pendingOrder(2, 10);
    await ctx.sql.query("UPDATE orders SET created_at = NOW(3) - INTERVAL 1 HOUR WHERE id = ?", [
      orderId,
    ]);
    expect(await cancelUnpaidOrders(ctx.deps, 100, patience())).toBe(1);
    const res = await api.webhook(event(orderId, "succeeded"));
    expect(res.body).toEqual({
      order_id: orderId,
      order_status: "cancelled",
      applied: false,
      duplicate: false,
      conflict: true,
    });
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(10);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("unknown order → 202 deferred; the order is born paid", async () => {
    const productId = await createProduct(api, 10);
    const holdId = await createHold(api, productId, 2);
    const orderId = await nextOrderId();
    const deferred = await api.webhook(event(orderId, "succeeded"));
    expect(deferred.status).toBe(202);
    expect(deferred.body).toEqual({
      order_id: orderId,
      order_status: null,
      applied: false,
      duplicate: false,
      deferred: true,
    });
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
    const orderId = await nextOrderId();
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

describe("races", () => {
  test("50 concurrent identical webhooks → one event row, one state change", async () => {
    const { orderId, productId } = await pendingOrder(2, 10);
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
      const { orderId } = await pendingOrder(1, 5);
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
      const orderId = await nextOrderId();
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

describe("signatures", () => {
  let signed: TestContext;
  let signedApi: Client;

  beforeAll(async () => {
    signed = await createTestContext({ WEBHOOK_SECRET: SECRET });
    signedApi = client(signed.app);
  });
  afterAll(() => signed.close());

  test("a valid signature is accepted", async () => {
    const body = JSON.stringify(event(424242, "succeeded"));
    const res = await signedApi.post(
      "/api/payments/webhook",
      body,
      webhookHeaders(body, SECRET, "msg_1"),
    );
    expect(res.status).toBe(202);
  });

  test("a missing signature is 401 invalid_signature", async () => {
    const res = await signedApi.post("/api/payments/webhook", event(1, "succeeded"));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ type: "about:blank", code: "invalid_signature", status: 401 });
  });

  test("a signature with the wrong secret is 401", async () => {
    const body = JSON.stringify(event(1, "succeeded"));
    const res = await signedApi.post(
      "/api/payments/webhook",
      body,
      webhookHeaders(body, OTHER_SECRET, "msg_2"),
    );
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_signature");
  });

  test("a stale timestamp (over five minutes) is 401", async () => {
    const body = JSON.stringify(event(1, "succeeded"));
    const stale = new Date(Date.now() - 6 * 60 * 1000);
    const res = await signedApi.post(
      "/api/payments/webhook",
      body,
      webhookHeaders(body, SECRET, "msg_3", stale),
    );
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("invalid_signature");
  });

  test("a body changed after signing is 401", async () => {
    const body = JSON.stringify(event(1, "succeeded"));
    const headers = webhookHeaders(body, SECRET, "msg_4");
    const res = await signedApi.post(
      "/api/payments/webhook",
      body.replace("succeeded", "failed"),
      headers,
    );
    expect(res.status).toBe(401);
  });
});

describe("payment events stranded beside their order (Galera's race), applied by the sweeper", () => {
  test.each([
    ["succeeded", "paid", 0],
    ["failed", "cancelled", 2],
  ] as const)("a deferred %s event for an existing order → %s", async (status, final, back) => {
    const { orderId, productId } = await pendingOrder(2, 10);
    const available = async () =>
      Number(
        (
          await rows<{ n: number }>(
            ctx.sql,
            "SELECT stock_available AS n FROM products WHERE id = ?",
            [productId],
          )
        )[0]?.n,
      );
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
async function refusedWithoutTrace(
  target: TestContext,
  headers: (body: string) => Record<string, string>,
) {
  const shop = client(target.app);
  const productId = await createProduct(shop, 10);
  const pending = await createOrder(shop, await createHold(shop, productId, 2));
  const [row] = await rows<{ next: number }>(
    target.sql,
    "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM orders",
  );
  const unborn = Number(row?.next);
  for (const orderId of [pending, unborn]) {
    const body = JSON.stringify(event(orderId, "succeeded"));
    const res = await shop.post("/api/payments/webhook", body, headers(body));
    expect(res.status).toBe(401);
    expect(res.body).toMatchObject({ type: "about:blank", code: "invalid_signature", status: 401 });
  }
  expect(await rows(target.sql, "SELECT id FROM payment_events")).toEqual([]);
  expect((await shop.get(`/api/orders/${pending}`)).body.status).toBe("pending");
  // The id the refused event named: the order is born pending, not paid.
  const born = await createOrder(shop, await createHold(shop, productId, 1));
  expect(born).toBe(unborn);
  expect((await shop.get(`/api/orders/${born}`)).body.status).toBe("pending");
  expect(await invariantViolations(target.sql)).toEqual([]);
}

describe("fail closed", () => {
  test("no WEBHOOK_SECRET: unsigned webhooks are 401 and store nothing, no order is born paid", async () => {
    const open = await createTestContext({ WEBHOOK_SECRET: "" });
    try {
      await refusedWithoutTrace(open, () => ({}));
    } finally {
      await open.close();
    }
  });

  test("no WEBHOOK_SECRET: a webhook signed with some secret is refused too", async () => {
    const open = await createTestContext({ WEBHOOK_SECRET: "" });
    try {
      await refusedWithoutTrace(open, (body) => webhookHeaders(body, SECRET));
    } finally {
      await open.close();
    }
  });

  test("with a WEBHOOK_SECRET: unsigned and wrongly signed webhooks store nothing", async () => {
    const guarded = await createTestContext({ WEBHOOK_SECRET: SECRET });
    try {
      await refusedWithoutTrace(guarded, () => ({}));
      await refusedWithoutTrace(guarded, (body) => webhookHeaders(body, OTHER_SECRET));
    } finally {
      await guarded.close();
    }
  });

  test.each([
    ["1", 401],
    ["TRUE", 401],
    ["yes", 401],
    ["true", 200],
  ] as const)(
    "WEBHOOK_ALLOW_UNSIGNED=%s with no secret → an unsigned webhook gets %i",
    async (value, status) => {
      const dev = await createTestContext({ WEBHOOK_SECRET: "", WEBHOOK_ALLOW_UNSIGNED: value });
      try {
        const shop = client(dev.app);
        const orderId = await createOrder(
          shop,
          await createHold(shop, await createProduct(shop, 5), 1),
        );
        const res = await shop.post("/api/payments/webhook", event(orderId, "succeeded"));
        expect(res.status).toBe(status);
        expect((await shop.get(`/api/orders/${orderId}`)).body.status).toBe(
          status === 200 ? "paid" : "pending",
        );
      } finally {
        await dev.close();
      }
    },
  );
});

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
    const { orderId } = await pendingOrder(1, 5);
    await ctx.sql.query(
      "INSERT INTO payment_events (idempotency_key, order_id, status, fingerprint, outcome, received_at) VALUES (?, ?, 'succeeded', ?, 'deferred', NOW(3) - INTERVAL 100 HOUR)",
      [`old-stranded-${orderId}`, orderId, "0".repeat(64)],
    );
    expect(await purgeDeferredEvents(ctx.deps, 100, patience())).toBe(0);
    expect(await applyStrandedEvents(ctx.deps, 100, patience())).toBe(1);
    expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe("paid");
  });
});
