import { describe, expect, test } from "bun:test";
import Stripe from "stripe";
import { useServedApp, useTestApp } from "./helpers/apps";
import { expectProblem } from "./helpers/contract";
import {
  admin,
  client,
  createHold,
  createOrder,
  createProduct,
  type Reply,
} from "./helpers/fixtures";
import { count, rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { expectAnswer, expectAnswerBody, nextOrderId, pendingOrder } from "./helpers/payments";
import { type ServerProcess, startServer } from "./helpers/processes";
import { until } from "./helpers/until";

// POST /api/payments/stripe: Stripe's events, signed as Stripe signs them (its own library),
// onto the payment path every provider's event takes.

const SECRET = "whsec_stripe_test_secret_0123456789abcdef";
const { ctx, api } = useServedApp({ STRIPE_WEBHOOK_SECRET: SECRET });

let events = 0;
const eventId = () => `evt_${process.pid}_${++events}`;

function intentEvent(type: string, orderId: number | undefined, intent: string, id = eventId()) {
  const metadata = orderId === undefined ? {} : { order_id: String(orderId) };
  return {
    id,
    object: "event",
    api_version: "2025-01-27.acacia",
    created: Math.floor(Date.now() / 1000),
    type,
    data: {
      object: { id: intent, object: "payment_intent", amount: 2580, currency: "eur", metadata },
    },
  };
}

function refundEvent(intent: string | null, id = eventId()) {
  return {
    id,
    object: "event",
    type: "charge.refunded",
    data: { object: { id: `ch_${id}`, object: "charge", refunded: true, payment_intent: intent } },
  };
}

/** Sends `event` as Stripe would: its exact text, signed now (or at `timestamp`) with `secret`. */
async function send(
  event: unknown,
  options: { secret?: string; timestamp?: number; base?: string; header?: string } = {},
): Promise<Reply> {
  const payload = typeof event === "string" ? event : JSON.stringify(event);
  const signature =
    options.header ??
    (await Stripe.webhooks.generateTestHeaderStringAsync({
      payload,
      secret: options.secret ?? SECRET,
      timestamp: options.timestamp,
    }));
  const target = client(options.base ?? ctx.baseUrl);
  return target.post("/api/payments/stripe", payload, { "stripe-signature": signature });
}

let intents = 0;
const intentId = () => `pi_${process.pid}_${++intents}`;

const orderStatus = async (orderId: number) =>
  (await rows<{ status: string }>(ctx.sql, "SELECT status FROM orders WHERE id = ?", [orderId]))[0]
    ?.status;

describe("PaymentIntent events", () => {
  test("succeeded pays the order and remembers the PaymentIntent", async () => {
    const { orderId } = await pendingOrder(api);
    const intent = intentId();
    const paid = await send(intentEvent("payment_intent.succeeded", orderId, intent));
    expectAnswer(paid, 200, orderId, "paid", "applied");
    const [row] = await rows<{ payment_intent: Buffer; status: string; outcome: string }>(
      ctx.sql,
      "SELECT payment_intent, status, outcome FROM payment_events WHERE order_id = ?",
      [orderId],
    );
    expect([String(row?.payment_intent), row?.status, row?.outcome]).toEqual([
      intent,
      "succeeded",
      "applied",
    ]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("payment_failed and canceled cancel the order and return its units", async () => {
    for (const type of ["payment_intent.payment_failed", "payment_intent.canceled"]) {
      const { productId, orderId } = await pendingOrder(api, 3);
      const failed = await send(intentEvent(type, orderId, intentId()));
      expectAnswerBody(failed.body, orderId, "cancelled", "applied");
      expect((await api.get(`/api/products/${productId}`)).body.available).toBe(10);
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a success after a failure is a conflict; the same event again a duplicate, also through another process", async () => {
    const { orderId } = await pendingOrder(api);
    await send(intentEvent("payment_intent.payment_failed", orderId, intentId()));
    const late = intentEvent("payment_intent.succeeded", orderId, intentId());
    const conflict = await send(late);
    expectAnswerBody(conflict.body, orderId, "cancelled", "conflict");
    let other: ServerProcess | undefined;
    try {
      other = await startServer(ctx.url, { STRIPE_WEBHOOK_SECRET: SECRET });
      const { orderId: second } = await pendingOrder(api);
      const event = intentEvent("payment_intent.succeeded", second, intentId());
      const [here, there] = await Promise.all([send(event), send(event, { base: other.base })]);
      const bodies = [here.body, there.body].sort(
        (a, b) => Number(a.duplicate) - Number(b.duplicate),
      );
      expect(bodies).toEqual([
        { order_id: second, order_status: "paid", applied: true, duplicate: false },
        { order_id: second, order_status: "paid", applied: false, duplicate: true },
      ]);
      expect((await send(late, { base: other.base })).body.duplicate).toBe(true);
      expect(other.errors()).toEqual([]);
    } finally {
      await other?.stop();
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("an event that outruns its order is deferred, and the order is born paid", async () => {
    const productId = await createProduct(api, 10);
    const holdId = await createHold(api, productId, 1);
    const orderId = await nextOrderId(ctx.sql);
    const intent = intentId();
    const early = await send(intentEvent("payment_intent.succeeded", orderId, intent));
    expectAnswer(early, 202, orderId, null, "deferred");
    expect(await createOrder(api, holdId)).toBe(orderId);
    expect(await orderStatus(orderId)).toBe("paid");
    // Its refund finds the order the deferred event paid.
    const refund = await send(refundEvent(intent));
    expect(refund.body).toMatchObject({ order_id: orderId, conflict: true });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("refunds", () => {
  test("charge.refunded of the PaymentIntent that paid an order: a conflict recorded already resolved as refunded, its payment.conflict event showing it; again a duplicate", async () => {
    const { orderId } = await pendingOrder(api);
    const intent = intentId();
    await send(intentEvent("payment_intent.succeeded", orderId, intent));
    const refund = refundEvent(intent);
    const refunded = await send(refund);
    expectAnswer(refunded, 200, orderId, "paid", "conflict");
    // The list never skips, so a row just written after an id gap shows within a few seconds.
    const conflictOf = async () => {
      const all = await api.get("/api/admin/payment-conflicts?state=all&limit=1000", admin);
      return (all.body.conflicts as Record<string, unknown>[]).find(
        (c) => c.idempotency_key === refund.id,
      );
    };
    const conflict = await until(conflictOf);
    expect(conflict).toEqual({
      id: expect.any(Number),
      idempotency_key: refund.id,
      order_id: orderId,
      status: "refunded",
      order_status: "paid",
      received_at: expect.any(String),
      resolved_at: expect.any(String),
      resolution: "refunded",
    });
    const open = await api.get("/api/admin/payment-conflicts?limit=1000", admin);
    expect((open.body.conflicts as { id: number }[]).map((c) => c.id)).not.toContain(
      conflict?.id as number,
    );
    const [event] = await rows<{ data: string }>(
      ctx.sql,
      "SELECT data FROM merchant_events WHERE order_id = ? AND type = 'payment.conflict'",
      [orderId],
    );
    expect(JSON.parse(event?.data as string)).toEqual(conflict);
    const again = await send(refund);
    expectAnswerBody(again.body, orderId, "paid", "duplicate");
    expect(await orderStatus(orderId)).toBe("paid");
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a refund of a PaymentIntent that paid nothing here, or of none, is ignored and changes nothing", async () => {
    const { orderId } = await pendingOrder(api);
    const failedIntent = intentId();
    await send(intentEvent("payment_intent.payment_failed", orderId, failedIntent));
    const before = await count(ctx.sql, "SELECT COUNT(*) AS n FROM payment_events");
    for (const refund of [
      refundEvent(failedIntent),
      refundEvent("pi_never_seen"),
      refundEvent(null),
    ]) {
      const ignored = await send(refund);
      expect([ignored.status, ignored.body]).toEqual([200, { ignored: true }]);
    }
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM payment_events")).toBe(before);
  });
});

describe("what is ignored or refused", () => {
  test("other types and events without metadata.order_id: 200 ignored, nothing changed", async () => {
    const { orderId } = await pendingOrder(api);
    const before = await count(ctx.sql, "SELECT COUNT(*) AS n FROM payment_events");
    for (const event of [
      intentEvent("payment_intent.created", orderId, intentId()),
      intentEvent("customer.created", orderId, intentId()),
      intentEvent("payment_intent.succeeded", undefined, intentId()),
      {
        ...intentEvent("payment_intent.succeeded", orderId, intentId()),
        data: { object: { id: "pi_x", metadata: { order_id: "07" } } },
      },
    ]) {
      const ignored = await send(event);
      expect([event.type, ignored.status, ignored.body]).toEqual([
        event.type,
        200,
        { ignored: true },
      ]);
    }
    expect(await count(ctx.sql, "SELECT COUNT(*) AS n FROM payment_events")).toBe(before);
    expect(await orderStatus(orderId)).toBe("pending");
  });

  test("a wrong secret, an old signature, a missing one, a changed body: 401 invalid_signature, nothing changed", async () => {
    const { orderId } = await pendingOrder(api);
    const event = intentEvent("payment_intent.succeeded", orderId, intentId());
    const payload = JSON.stringify(event);
    const good = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: SECRET });
    const refusals = [
      await send(event, { secret: "whsec_some_other_secret_000000000000" }),
      await send(event, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
      await send(event, { header: "" }),
      await send(event, { header: "t=1,v1=00" }),
      await send(payload.replace('"eur"', '"usd"'), { header: good }),
    ];
    for (const refused of refusals) {
      expect(refused.status).toBe(401);
      expect(refused.body.code).toBe("invalid_signature");
      expect(String(refused.body.detail)).toStartWith("The Stripe signature is not valid: ");
    }
    expect(await orderStatus(orderId)).toBe("pending");
    expect(
      await count(ctx.sql, "SELECT COUNT(*) AS n FROM payment_events WHERE order_id = ?", [
        orderId,
      ]),
    ).toBe(0);
  });

  test("signed but not an event: 400 or 422; bodies up to 256 KiB here, 16 KiB on the other webhook", async () => {
    expect((await send("{not json")).status).toBe(400);
    expect((await send({ id: "evt_x", type: "charge.refunded" })).status).toBe(422);
    const { orderId } = await pendingOrder(api);
    const big = intentEvent("payment_intent.succeeded", orderId, intentId());
    Object.assign(big.data.object, { description: "x".repeat(200 * 1024) });
    expect((await send(big)).body).toMatchObject({ order_id: orderId, applied: true });
    Object.assign(big.data.object, { description: "x".repeat(260 * 1024) });
    const tooLarge = await send(big);
    expect([tooLarge.status, tooLarge.body.code, tooLarge.body.detail]).toEqual([
      413,
      "payload_too_large",
      "The request body is larger than 256 KiB.",
    ]);
    const other = await api.webhook({
      idempotency_key: "x".repeat(20 * 1024),
      order_id: orderId,
      status: "failed",
    });
    expect([other.status, other.body.detail]).toEqual([
      413,
      "The request body is larger than 16 KiB.",
    ]);
  });
});

describe("event ids that are not well-formed Unicode", () => {
  test("a lone surrogate in the event id is a 422 and stores nothing, so two such ids never collide", async () => {
    const { orderId } = await pendingOrder(api);
    for (const id of ["evt_\ud800", "evt_\udfff"]) {
      const reply = await send(intentEvent("payment_intent.succeeded", orderId, intentId(), id));
      expect([reply.status, reply.body.code]).toEqual([422, "validation_failed"]);
    }
    expect(await orderStatus(orderId)).toBe("pending");
  });
});

describe("without STRIPE_WEBHOOK_SECRET", () => {
  const bare = useTestApp();

  test("every Stripe webhook is 401 invalid_signature", async () => {
    const payload = JSON.stringify(intentEvent("payment_intent.succeeded", 1, "pi_1"));
    const header = await Stripe.webhooks.generateTestHeaderStringAsync({ payload, secret: SECRET });
    const refused = await bare.api.post("/api/payments/stripe", payload, {
      "stripe-signature": header,
    });
    expectProblem(refused, 401, {
      title: "Invalid signature",
      code: "invalid_signature",
      detail: "No STRIPE_WEBHOOK_SECRET is configured, so every Stripe webhook is refused.",
    });
  });
});
