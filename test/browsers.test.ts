import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { admin, client, createHold, createProduct } from "./helpers/fixtures";
import { createTestContext, type Running, serve, type TestContext } from "./helpers/harness";

const SHOP = "https://shop.example";
const DEV = "http://localhost:5173";
const STRANGER = "https://evil.example";

let ctx: TestContext;
let running: Running;
let base: string;
let productId: number;

beforeAll(async () => {
  ctx = await createTestContext({ CORS_ORIGINS: `${SHOP}, ${DEV}` });
  running = serve(ctx.app);
  base = running.baseUrl;
  productId = await createProduct(client(base), 100);
});
afterAll(async () => {
  await running.stop();
  await ctx.close();
});

const corsHeaders = (res: Response) =>
  [...res.headers.keys()].filter((name) => name.startsWith("access-control-"));

const preflight = (path: string, origin: string, method = "POST") =>
  fetch(`${base}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": "authorization, content-type, idempotency-key",
    },
  });

describe("CORS for a listed origin", () => {
  test.each([
    "/api/holds",
    "/api/holds/5",
    "/api/orders",
    "/api/orders/5",
    "/api/products/1",
    "/api/products/1/events",
  ])("a preflight of %s is a 204 allowing the contract's methods and headers", async (path) => {
    const res = await preflight(path, SHOP);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(SHOP);
    expect(res.headers.get("access-control-allow-methods")).toBe("GET, POST, DELETE");
    expect(res.headers.get("access-control-allow-headers")).toBe(
      "Authorization, Content-Type, Idempotency-Key",
    );
    expect(res.headers.get("vary")).toContain("Origin");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  test("product reads, holds and problems carry the origin and the exposed headers", async () => {
    const headers = { origin: DEV, "content-type": "application/json" };
    const answers = [
      await fetch(`${base}/api/products/${productId}`, { headers: { origin: DEV } }),
      // The second read is answered from the cache, synchronously.
      await fetch(`${base}/api/products/${productId}`, { headers: { origin: DEV } }),
      await fetch(`${base}/api/holds`, {
        method: "POST",
        headers,
        body: JSON.stringify({ product_id: productId, qty: 1 }),
      }),
      await fetch(`${base}/api/holds`, {
        method: "POST",
        headers,
        body: JSON.stringify({ product_id: productId, qty: 100 }),
      }),
      await fetch(`${base}/api/products/987654`, { headers: { origin: DEV } }),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 200, 201, 409, 404]);
    for (const res of answers) {
      expect(res.headers.get("access-control-allow-origin")).toBe(DEV);
      expect(res.headers.get("access-control-expose-headers")).toBe(
        "X-Request-Id, Retry-After, ETag, Idempotent-Replayed",
      );
      expect(res.headers.get("vary")).toContain("Origin");
    }
  });

  test("admin routes and the webhook are not opened to browsers", async () => {
    for (const path of ["/api/admin/products", "/api/payments/webhook"]) {
      const res = await preflight(path, SHOP);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(corsHeaders(res)).toEqual([]);
    }
    const listed = await fetch(`${base}/api/admin/products`, {
      headers: { origin: SHOP, ...admin },
    });
    expect(listed.status).toBe(200);
    expect(corsHeaders(listed)).toEqual([]);
  });
});

describe("CORS with buyer tokens", () => {
  test("a preflight needs no token (browsers send none); the request it clears does", async () => {
    const guarded = await createTestContext({
      CORS_ORIGINS: SHOP,
      BUYER_JWT_SECRET: "buyer-secret-for-cors-tests-0123456789",
    });
    const server = serve(guarded.app);
    try {
      const pre = await fetch(`${server.baseUrl}/api/holds`, {
        method: "OPTIONS",
        headers: { origin: SHOP, "access-control-request-method": "POST" },
      });
      expect(pre.status).toBe(204);
      expect(pre.headers.get("access-control-allow-origin")).toBe(SHOP);
      const refused = await fetch(`${server.baseUrl}/api/holds`, {
        method: "POST",
        headers: { origin: SHOP, "content-type": "application/json" },
        body: JSON.stringify({ product_id: 1, qty: 1 }),
      });
      expect(refused.status).toBe(401);
      // Readable by the shop's script: the browser shows it the 401, not a CORS error.
      expect(refused.headers.get("access-control-allow-origin")).toBe(SHOP);
    } finally {
      await server.stop();
      await guarded.close();
    }
  });
});

describe("CORS for anyone else", () => {
  test("an unlisted origin's preflight and requests get no CORS header", async () => {
    const pre = await preflight("/api/holds", STRANGER);
    expect(pre.status).toBe(404);
    expect(corsHeaders(pre)).toEqual([]);
    const read = await fetch(`${base}/api/products/${productId}`, {
      headers: { origin: STRANGER },
    });
    expect(read.status).toBe(200);
    expect(corsHeaders(read)).toEqual([]);
    // Still varies by Origin: a shared cache must not serve this answer to a listed origin.
    expect(read.headers.get("vary")).toContain("Origin");
  });

  test("with CORS_ORIGINS unset nothing is opened", async () => {
    const closed = await createTestContext();
    const server = serve(closed.app);
    try {
      const id = await createProduct(client(server.baseUrl), 5);
      const pre = await fetch(`${server.baseUrl}/api/holds`, {
        method: "OPTIONS",
        headers: { origin: SHOP, "access-control-request-method": "POST" },
      });
      expect(pre.status).toBe(404);
      expect(corsHeaders(pre)).toEqual([]);
      const read = await fetch(`${server.baseUrl}/api/products/${id}`, {
        headers: { origin: SHOP },
      });
      expect(read.status).toBe(200);
      expect(corsHeaders(read)).toEqual([]);
    } finally {
      await server.stop();
      await closed.close();
    }
  });
});

describe("X-Content-Type-Options: nosniff on every answer", () => {
  test("hot answers, problems, ops routes, pages and 413s all carry it", async () => {
    const holdId = await createHold(client(base), productId, 1);
    const json = { "content-type": "application/json" };
    const requests: [string, RequestInit][] = [
      [`/api/products/${productId}`, {}],
      [`/api/products/${productId}`, {}],
      [`/api/holds/${holdId}`, {}],
      [
        "/api/holds",
        { method: "POST", headers: json, body: `{"product_id":${productId},"qty":1}` },
      ],
      [
        "/api/holds",
        { method: "POST", headers: json, body: `{"product_id":${productId},"qty":0}` },
      ],
      ["/api/holds", { method: "POST", headers: json, body: "{]" }],
      ["/api/holds", { method: "POST", headers: json, body: "x".repeat(20 * 1024) }],
      ["/api/holds", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }],
      ["/api/admin/products", {}],
      ["/api/payments/webhook", { method: "POST", headers: json, body: "{}" }],
      ["/no/such/route", {}],
      ["/api/holds", { method: "PUT" }],
      ["/healthz", {}],
      ["/readyz", {}],
      ["/metrics", {}],
      ["/openapi.json", {}],
      ["/docs", {}],
      ["/admin", {}],
    ];
    const statuses: number[] = [];
    for (const [path, init] of requests) {
      const res = await fetch(`${base}${path}`, init);
      await res.arrayBuffer();
      statuses.push(res.status);
      expect({ path, nosniff: res.headers.get("x-content-type-options") }).toEqual({
        path,
        nosniff: "nosniff",
      });
    }
    expect(statuses).toEqual([
      200, 200, 200, 201, 422, 400, 413, 415, 401, 401, 404, 404, 200, 200, 200, 200, 200, 200,
    ]);
  });
});
