import { Writable } from "node:stream";
import pino from "pino";
import { Webhook } from "standardwebhooks";
import type { App } from "../../src/app";
import { Deadline } from "../../src/deadline/deadline";
import { ADMIN_TOKEN, WEBHOOK_SECRET } from "./harness";

export type Json = Record<string, unknown>;

export type Reply = { status: number; body: Json; headers: Headers };

async function reply(response: Response): Promise<Reply> {
  const text = await response.text();
  let body: Json = {};
  if (text) body = JSON.parse(text) as Json;
  return { status: response.status, body, headers: response.headers };
}

let webhookIds = 0;

/** Standard Webhooks headers signing `body` as a payment provider would (the harness's secret). */
export function webhookHeaders(
  body: string,
  secret = WEBHOOK_SECRET,
  id = `msg_${process.pid}_${++webhookIds}`,
  at = new Date(),
): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, at, body),
  };
}

/**
 * A client for either the in-process app or a real server's base URL, or for the one a function
 * names when asked (a suite's app, made later in its beforeAll).
 */
export function client(target: App | string | (() => App | string)) {
  const send = (path: string, init: RequestInit): Promise<Response> => {
    const to = typeof target === "function" ? target() : target;
    return typeof to === "string"
      ? fetch(`${to}${path}`, init)
      : Promise.resolve(to.request(path, init));
  };
  return {
    get: async (path: string, headers: Record<string, string> = {}) =>
      reply(await send(path, { headers })),
    delete: async (path: string) => reply(await send(path, { method: "DELETE" })),
    post: async (path: string, body: unknown, headers: Record<string, string> = {}) =>
      reply(
        await send(path, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: typeof body === "string" ? body : JSON.stringify(body),
        }),
      ),
    patch: async (path: string, body: unknown, headers: Record<string, string> = {}) =>
      reply(
        await send(path, {
          method: "PATCH",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(body),
        }),
      ),
    /** A payment webhook, signed with the harness's secret. */
    webhook: async (body: unknown, headers: Record<string, string> = {}) => {
      const text = typeof body === "string" ? body : JSON.stringify(body);
      return reply(
        await send("/api/payments/webhook", {
          method: "POST",
          headers: { "content-type": "application/json", ...webhookHeaders(text), ...headers },
          body: text,
        }),
      );
    },
    raw: send,
  };
}

export type Client = ReturnType<typeof client>;

/** A deadline for services called directly: far enough away never to cut a test short. */
export const patience = (): Deadline => Deadline.after(60_000);

export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

export async function createProduct(
  api: Client,
  stock: number,
  priceCents = 12900,
): Promise<number> {
  const created = await api.post(
    "/api/admin/products",
    { name: "Limited sneaker", price_cents: priceCents, stock },
    admin,
  );
  if (created.status !== 201)
    throw new Error(`product not created: ${JSON.stringify(created.body)}`);
  return created.body.id as number;
}

export async function createHold(api: Client, productId: number, qty = 1): Promise<number> {
  const hold = await api.post("/api/holds", { product_id: productId, qty });
  if (hold.status !== 201) throw new Error(`hold not created: ${JSON.stringify(hold.body)}`);
  return hold.body.hold_id as number;
}

export async function createOrder(api: Client, holdId: number): Promise<number> {
  const order = await api.post("/api/orders", { hold_id: holdId });
  if (order.status !== 201) throw new Error(`order not created: ${JSON.stringify(order.body)}`);
  return order.body.order_id as number;
}

export function countBy<T>(items: T[], key: (item: T) => string | number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = String(key(item));
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

/** A logger whose JSON lines land in `lines`, for tests that read what operators would. */
export function captureLogs(level = "info") {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, logger: pino({ level }, sink) };
}

/** The environment for a suite run with `HOLD_BATCH_MAX` set, or with the default ("default"). */
export const batching = (batchMax: string): Record<string, string> =>
  batchMax === "default" ? {} : { HOLD_BATCH_MAX: batchMax };
