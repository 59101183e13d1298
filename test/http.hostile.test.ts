import { beforeAll, describe, expect, test } from "bun:test";
import { useTestApp } from "./helpers/apps";
import { admin, createHold, createProduct, webhookHeaders } from "./helpers/fixtures";
import { serve } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { holdDeclaredTwice, sendRaw } from "./helpers/raw-http";

const { ctx, api } = useTestApp();
let productId: number;
let holdId: number;

beforeAll(async () => {
  productId = await createProduct(api, 1000);
  holdId = await createHold(api, productId, 1);
});

type Case = {
  name: string;
  method: "GET" | "POST" | "DELETE";
  path: string;
  body?: string;
  headers?: Record<string, string>;
  code: string;
};

const json = (value: unknown) => JSON.stringify(value);
const bigBody = json({ product_id: 1, qty: 1, pad: "x".repeat(20 * 1024) });
const holdBody = (value: unknown) => ({
  method: "POST" as const,
  path: "/api/holds",
  body: json(value),
});
const orderBody = (value: unknown) => ({
  method: "POST" as const,
  path: "/api/orders",
  body: json(value),
});
const webhookBody = (value: unknown) => ({
  method: "POST" as const,
  path: "/api/payments/webhook",
  body: json(value),
});

const cases: Case[] = [
  {
    name: "hold: qty as string",
    ...holdBody({ product_id: 1, qty: "5" }),
    code: "validation_failed",
  },
  {
    name: "hold: product_id as string",
    ...holdBody({ product_id: "1", qty: 1 }),
    code: "validation_failed",
  },
  { name: "hold: qty float", ...holdBody({ product_id: 1, qty: 1.5 }), code: "validation_failed" },
  { name: "hold: qty zero", ...holdBody({ product_id: 1, qty: 0 }), code: "validation_failed" },
  {
    name: "hold: qty negative",
    ...holdBody({ product_id: 1, qty: -3 }),
    code: "validation_failed",
  },
  {
    name: "hold: qty 1e30",
    method: "POST",
    path: "/api/holds",
    body: '{"product_id":1,"qty":1e30}',
    code: "validation_failed",
  },
  {
    name: "hold: product_id 20 digits",
    method: "POST",
    path: "/api/holds",
    body: '{"product_id":12345678901234567890,"qty":1}',
    code: "validation_failed",
  },
  {
    name: "hold: product_id negative",
    ...holdBody({ product_id: -1, qty: 1 }),
    code: "validation_failed",
  },
  {
    name: "hold: product_id zero",
    ...holdBody({ product_id: 0, qty: 1 }),
    code: "validation_failed",
  },
  { name: "hold: qty null", ...holdBody({ product_id: 1, qty: null }), code: "validation_failed" },
  { name: "hold: qty array", ...holdBody({ product_id: 1, qty: [1] }), code: "validation_failed" },
  {
    name: "hold: qty boolean",
    ...holdBody({ product_id: 1, qty: true }),
    code: "validation_failed",
  },
  {
    name: "hold: qty object",
    ...holdBody({ product_id: 1, qty: { n: 1 } }),
    code: "validation_failed",
  },
  { name: "hold: missing qty", ...holdBody({ product_id: 1 }), code: "validation_failed" },
  { name: "hold: missing product_id", ...holdBody({ qty: 1 }), code: "validation_failed" },
  {
    name: "hold: extra field",
    ...holdBody({ product_id: 1, qty: 1, price: 0 }),
    code: "validation_failed",
  },
  {
    name: "hold: body is null",
    method: "POST",
    path: "/api/holds",
    body: "null",
    code: "validation_failed",
  },
  {
    name: "hold: body is an array",
    ...holdBody([{ product_id: 1, qty: 1 }]),
    code: "validation_failed",
  },
  {
    name: "hold: body is a number",
    method: "POST",
    path: "/api/holds",
    body: "42",
    code: "validation_failed",
  },
  {
    name: "hold: body is a string",
    method: "POST",
    path: "/api/holds",
    body: '"hold"',
    code: "validation_failed",
  },
  {
    name: "hold: empty body",
    method: "POST",
    path: "/api/holds",
    body: "",
    code: "malformed_json",
  },
  {
    name: "hold: invalid JSON",
    method: "POST",
    path: "/api/holds",
    body: "{product_id:1}",
    code: "malformed_json",
  },
  {
    name: "hold: truncated JSON",
    method: "POST",
    path: "/api/holds",
    body: '{"product_id":1,',
    code: "malformed_json",
  },
  {
    name: "hold: text/plain",
    method: "POST",
    path: "/api/holds",
    body: json({ product_id: 1, qty: 1 }),
    headers: { "content-type": "text/plain" },
    code: "unsupported_media_type",
  },
  {
    name: "hold: form encoded",
    method: "POST",
    path: "/api/holds",
    body: "product_id=1&qty=1",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    code: "unsupported_media_type",
  },
  {
    name: "hold: 20 KiB body",
    method: "POST",
    path: "/api/holds",
    body: bigBody,
    code: "payload_too_large",
  },
  {
    name: "hold: empty Idempotency-Key",
    ...holdBody({ product_id: 1, qty: 1 }),
    headers: { "idempotency-key": "" },
    code: "validation_failed",
  },
  {
    name: "hold: 256-char Idempotency-Key",
    ...holdBody({ product_id: 1, qty: 1 }),
    headers: { "idempotency-key": "k".repeat(256) },
    code: "validation_failed",
  },
  {
    name: "hold: non-ASCII Idempotency-Key",
    ...holdBody({ product_id: 1, qty: 1 }),
    headers: { "idempotency-key": "clé" },
    code: "validation_failed",
  },
  { name: "order: hold_id as string", ...orderBody({ hold_id: "1" }), code: "validation_failed" },
  { name: "order: hold_id float", ...orderBody({ hold_id: 1.5 }), code: "validation_failed" },
  { name: "order: hold_id negative", ...orderBody({ hold_id: -1 }), code: "validation_failed" },
  { name: "order: hold_id null", ...orderBody({ hold_id: null }), code: "validation_failed" },
  { name: "order: empty object", ...orderBody({}), code: "validation_failed" },
  {
    name: "order: invalid JSON",
    method: "POST",
    path: "/api/orders",
    body: "{",
    code: "malformed_json",
  },
  {
    name: "order: 20 KiB body",
    method: "POST",
    path: "/api/orders",
    body: bigBody,
    code: "payload_too_large",
  },
  { name: "product id abc", method: "GET", path: "/api/products/abc", code: "validation_failed" },
  { name: "product id -1", method: "GET", path: "/api/products/-1", code: "validation_failed" },
  { name: "product id 1.5", method: "GET", path: "/api/products/1.5", code: "validation_failed" },
  { name: "product id 0", method: "GET", path: "/api/products/0", code: "validation_failed" },
  {
    name: "product id 20 digits",
    method: "GET",
    path: "/api/products/12345678901234567890",
    code: "validation_failed",
  },
  { name: "product id 1e3", method: "GET", path: "/api/products/1e3", code: "validation_failed" },
  {
    name: "product id with leading zero",
    method: "GET",
    path: "/api/products/007",
    code: "validation_failed",
  },
  { name: "hold id abc", method: "GET", path: "/api/holds/abc", code: "validation_failed" },
  {
    name: "hold id 20 digits (DELETE)",
    method: "DELETE",
    path: "/api/holds/99999999999999999999",
    code: "validation_failed",
  },
  { name: "order id -1", method: "GET", path: "/api/orders/-1", code: "validation_failed" },
  { name: "order id 1.5", method: "GET", path: "/api/orders/1.5", code: "validation_failed" },
  {
    name: "webhook: unknown status",
    ...webhookBody({ idempotency_key: "e", order_id: 1, status: "refunded" }),
    code: "validation_failed",
  },
  {
    name: "webhook: order_id as string",
    ...webhookBody({ idempotency_key: "e", order_id: "1", status: "failed" }),
    code: "validation_failed",
  },
  {
    name: "webhook: empty key",
    ...webhookBody({ idempotency_key: "", order_id: 1, status: "failed" }),
    code: "validation_failed",
  },
  {
    name: "webhook: missing key",
    ...webhookBody({ order_id: 1, status: "failed" }),
    code: "validation_failed",
  },
  {
    name: "webhook: key as number",
    ...webhookBody({ idempotency_key: 7, order_id: 1, status: "failed" }),
    code: "validation_failed",
  },
  {
    name: "webhook: invalid JSON",
    method: "POST",
    path: "/api/payments/webhook",
    body: "{]",
    code: "malformed_json",
  },
  {
    name: "webhook: 20 KiB body",
    method: "POST",
    path: "/api/payments/webhook",
    body: bigBody,
    code: "payload_too_large",
  },
  {
    name: "webhook: text/plain",
    method: "POST",
    path: "/api/payments/webhook",
    body: "{}",
    headers: { "content-type": "text/plain" },
    code: "unsupported_media_type",
  },
  {
    name: "admin: stock negative",
    method: "POST",
    path: "/api/admin/products",
    body: json({ name: "x", price_cents: 1, stock: -1 }),
    headers: admin,
    code: "validation_failed",
  },
  {
    name: "admin: price as string",
    method: "POST",
    path: "/api/admin/products",
    body: json({ name: "x", price_cents: "1", stock: 1 }),
    headers: admin,
    code: "validation_failed",
  },
  {
    name: "admin: empty name",
    method: "POST",
    path: "/api/admin/products",
    body: json({ name: "", price_cents: 1, stock: 1 }),
    headers: admin,
    code: "validation_failed",
  },
  {
    name: "admin: restock zero",
    method: "POST",
    path: "/api/admin/products/1/restock",
    body: json({ qty: 0 }),
    headers: admin,
    code: "validation_failed",
  },
  {
    name: "admin: restock float",
    method: "POST",
    path: "/api/admin/products/1/restock",
    body: json({ qty: 2.5 }),
    headers: admin,
    code: "validation_failed",
  },
  {
    name: "admin: restock id abc",
    method: "POST",
    path: "/api/admin/products/abc/restock",
    body: json({ qty: 1 }),
    headers: admin,
    code: "validation_failed",
  },
  {
    name: "admin: no token",
    method: "POST",
    path: "/api/admin/products",
    body: json({ name: "x", price_cents: 1, stock: 1 }),
    code: "unauthorized",
  },
  {
    name: "admin: Basic auth",
    method: "POST",
    path: "/api/admin/products",
    body: json({ name: "x", price_cents: 1, stock: 1 }),
    headers: { authorization: "Basic dGVzdDp0ZXN0" },
    code: "unauthorized",
  },
  { name: "unknown route", method: "GET", path: "/api/holdz", code: "not_found" },
  { name: "wrong method", method: "DELETE", path: "/api/orders/1", code: "not_found" },
  ...[
    ["NUL then garbage", '{"product_id":1,"qty":1}\u0000garbage'],
    ["a lone trailing NUL", '{"product_id":1,"qty":1}\u0000'],
    ["a second document", '{"product_id":1,"qty":1}{"product_id":1,"qty":1}'],
    ["garbage after whitespace", '{"product_id":1,"qty":1} \n x'],
  ].map(([what, body]) => ({
    name: `hold: ${what} after the JSON`,
    method: "POST" as const,
    path: "/api/holds",
    body,
    code: "malformed_json",
  })),
  {
    name: "order: NUL then garbage after the JSON",
    method: "POST",
    path: "/api/orders",
    body: '{"hold_id":1}\u0000{}',
    code: "malformed_json",
  },
  {
    name: "webhook: NUL then garbage after the JSON",
    method: "POST",
    path: "/api/payments/webhook",
    body: '{"idempotency_key":"k","order_id":1,"status":"failed"}\u0000x',
    code: "malformed_json",
  },
  {
    name: "order for a live hold with extra field",
    method: "POST",
    path: "/api/orders",
    body: json({ hold_id: 1, qty: 5 }),
    code: "validation_failed",
  },
];

describe("hostile input", () => {
  test(`the table has at least 40 cases (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  test.each(cases.map((c) => [c.name, c] as const))("%s → 4xx problem", async (_name, c) => {
    const headers: Record<string, string> = { ...c.headers };
    if (c.body !== undefined && !("content-type" in headers))
      headers["content-type"] = "application/json";
    // Signed, so that what is tested is the body's check, not the signature's.
    if (c.path === "/api/payments/webhook" && c.body !== undefined)
      Object.assign(headers, webhookHeaders(c.body));
    const res = await api.raw(c.path, { method: c.method, headers, body: c.body });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ type: "about:blank", code: c.code, status: res.status });
    expect(typeof body.title).toBe("string");
    expect(typeof body.detail).toBe("string");
    if (c.code === "validation_failed") expect(Array.isArray(body.errors)).toBe(true);
  });

  test("trailing bytes after the JSON are refused through a real socket too", async () => {
    const running = serve(ctx.app);
    try {
      for (const tail of ["\u0000garbage", "\u0000", " x"]) {
        const res = await fetch(`${running.baseUrl}/api/holds`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: `{"product_id":${productId},"qty":1}${tail}`,
        });
        expect(res.status).toBe(400);
        expect(((await res.json()) as { code: string }).code).toBe("malformed_json");
        expect(res.headers.get("x-request-id")).toBeTruthy();
      }
    } finally {
      await running.stop();
    }
  });

  test("a body declared both with Content-Length and chunked is refused by the server and changes nothing", async () => {
    const running = serve(ctx.app);
    const [before] = await ctx.sql.query("SELECT COUNT(*) AS n FROM holds");
    try {
      const answer = await sendRaw(running.baseUrl, holdDeclaredTwice(productId));
      expect(answer).toStartWith("HTTP/1.1 400");
      const [after] = await ctx.sql.query("SELECT COUNT(*) AS n FROM holds");
      expect(after).toEqual(before);
    } finally {
      await running.stop();
    }
  });

  test("over 16 KiB is refused through a real socket, declared or chunked; a small chunked body is read", async () => {
    const running = serve(ctx.app);
    const chunked = (text: string, pieces: number) => {
      const bytes = new TextEncoder().encode(text);
      const size = Math.ceil(bytes.length / pieces);
      return new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < bytes.length; at += size)
            controller.enqueue(bytes.slice(at, at + size));
          controller.close();
        },
      });
    };
    const post = (body: string | ReadableStream<Uint8Array>) =>
      fetch(`${running.baseUrl}/api/holds`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
    try {
      const declared = await post(bigBody);
      expect(declared.status).toBe(413);
      expect(((await declared.json()) as { code: string }).code).toBe("payload_too_large");

      const streamed = await post(chunked(bigBody, 8));
      expect(streamed.status).toBe(413);
      expect(((await streamed.json()) as { code: string }).code).toBe("payload_too_large");
      expect(streamed.headers.get("x-request-id")).toBeTruthy();

      // Read whole and parsed: the product it names does not exist.
      const small = await post(chunked(json({ product_id: 987654, qty: 1 }), 3));
      expect(small.status).toBe(404);
      expect(((await small.json()) as { code: string }).code).toBe("product_not_found");
    } finally {
      await running.stop();
    }
  });

  test("none of it changed stock", async () => {
    expect((await api.get(`/api/holds/${holdId}`)).body.status).toBe("active");
    expect((await api.get(`/api/products/${productId}`)).body.available).toBe(999);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
