import { expect } from "bun:test";
import type mysql from "mysql2/promise";
import { type Client, createHold, createOrder, createProduct } from "./fixtures";
import { rows } from "./harness";

export const SECRET = `whsec_${Buffer.from("flash-sale-test-secret-32-bytes!").toString("base64")}`;
export const OTHER_SECRET = `whsec_${Buffer.from("some-other-secret-of-32-bytes!!!").toString("base64")}`;

let keys = 0;
/** A fresh idempotency key for a payment event. */
export const key = () => `evt_${++keys}_${Math.random().toString(36).slice(2)}`;

/** A payment provider's webhook body; a fresh idempotency key unless one is given. */
export const event = (orderId: number, status: "succeeded" | "failed", idempotencyKey = key()) => ({
  idempotency_key: idempotencyKey,
  order_id: orderId,
  status,
});

/** Pays (or fails to pay) for an order as the provider would: a signed webhook. */
export const pay = (
  api: Client,
  orderId: number,
  status: "succeeded" | "failed",
  idempotencyKey = key(),
) => api.webhook(event(orderId, status, idempotencyKey));

/** A product of `stock` units and a pending order of `qty` of them. */
export async function pendingOrder(api: Client, qty = 2, stock = 10) {
  const productId = await createProduct(api, stock);
  const orderId = await createOrder(api, await createHold(api, productId, qty));
  return { productId, orderId };
}

/** The id the next order will get: a webhook can name it before the order exists. */
export async function nextOrderId(pool: mysql.Pool): Promise<number> {
  const [row] = await rows<{ next: number }>(
    pool,
    "SELECT COALESCE(MAX(id), 0) + 1 AS next FROM orders",
  );
  return Number(row?.next);
}

/** The flags of a webhook's answer by what became of the event (`duplicate`: its key again). */
const ANSWERS = {
  applied: { applied: true, duplicate: false },
  "duplicate-state": { applied: false, duplicate: false },
  conflict: { applied: false, duplicate: false, conflict: true },
  deferred: { applied: false, duplicate: false, deferred: true },
  duplicate: { applied: false, duplicate: true },
} as const;

type Outcome = keyof typeof ANSWERS;

/** The answer's body is exactly this, for the order and its status. */
export function expectAnswerBody(
  body: unknown,
  orderId: number,
  orderStatus: string | null,
  outcome: Outcome,
) {
  expect(body).toEqual({ order_id: orderId, order_status: orderStatus, ...ANSWERS[outcome] });
}

/** The webhook answered `status` with exactly this body. */
export function expectAnswer(
  reply: { status: number; body: unknown },
  status: number,
  orderId: number,
  orderStatus: string | null,
  outcome: Outcome,
) {
  expect(reply.status).toBe(status);
  expectAnswerBody(reply.body, orderId, orderStatus, outcome);
}
