import { describe, expect, test } from "bun:test";
import { request as httpRequest } from "node:http";
import { rateLimited } from "../src/http/rate-limit";
import { client, createHold, createOrder, createProduct, type Reply } from "./helpers/fixtures";
import { createTestContext, serve } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { holdsOf, statuses, useLimited } from "./helpers/rate-limit";

/** A hold posted from another loopback address (Linux routes all of 127/8 to lo). */
function holdFrom(localAddress: string, baseUrl: string, productId: number): Promise<number> {
  const { port } = new URL(baseUrl);
  const body = JSON.stringify({ product_id: productId, qty: 1 });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port: Number(port),
        localAddress,
        method: "POST",
        path: "/api/holds",
        headers: { "content-type": "application/json", "content-length": body.length },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("SHOPPER_RATE_PER_SECOND, anonymous shoppers by address", () => {
  const limited = useLimited({ SHOPPER_RATE_PER_SECOND: "5", DB_POOL_SIZE: "16" }, 5);
  test("a burst of 2N concurrent holds passes, the next is 429 with Retry-After and changes nothing", async () => {
    limited.clock.now += 10_000;
    const productId = await createProduct(client(limited.ctx.app), 100);
    const burst = await Promise.all(
      Array.from({ length: 10 }, () =>
        limited.api.post("/api/holds", { product_id: productId, qty: 1 }),
      ),
    );
    expect(statuses(burst)).toEqual(Array(10).fill(201));
    const refused = await Promise.all(
      Array.from({ length: 5 }, () =>
        limited.api.post("/api/holds", { product_id: productId, qty: 1 }),
      ),
    );
    for (const reply of refused) {
      expect(reply.status).toBe(429);
      expect(reply.headers.get("retry-after")).toBe("1");
      expect(reply.headers.get("content-type")).toBe("application/problem+json");
      expect(reply.body).toMatchObject({
        type: "about:blank",
        status: 429,
        code: "too_many_requests",
      });
      expect(reply.headers.get("x-request-id")).toBeTruthy();
    }
    expect(await holdsOf(limited.ctx, productId)).toBe(10);
    const product = await limited.api.get(`/api/products/${productId}`);
    expect(product.body.stock_reserved).toBe(10);
    expect(await invariantViolations(limited.ctx.sql)).toEqual([]);

    // Refusals took nothing: one refill's worth later, exactly one more passes.
    limited.clock.now += 200;
    const after = [
      await limited.api.post("/api/holds", { product_id: productId, qty: 1 }),
      await limited.api.post("/api/holds", { product_id: productId, qty: 1 }),
    ];
    expect(statuses(after)).toEqual([201, 429]);
    expect(await holdsOf(limited.ctx, productId)).toBe(11);
  });

  test("releases and orders take tokens too; reads never do", async () => {
    limited.clock.now += 10_000;
    const productId = await createProduct(client(limited.ctx.app), 100);
    const holds: number[] = [];
    for (let i = 0; i < 6; i++) holds.push(await createHold(limited.api, productId));
    for (let i = 0; i < 20; i++)
      expect((await limited.api.get(`/api/holds/${holds[0]}`)).status).toBe(200);
    const [a, b, c, d] = holds;
    expect((await limited.api.delete(`/api/holds/${a}`)).status).toBe(200);
    expect((await limited.api.post("/api/orders", { hold_id: b })).status).toBe(201);
    expect((await limited.api.post("/api/orders", { hold_id: c })).status).toBe(201);
    expect((await limited.api.delete(`/api/holds/${d}`)).status).toBe(200);
    // 6 holds, 2 releases, 2 orders: the ten are spent.
    const refusedRelease = await limited.api.delete(`/api/holds/${d}`);
    const refusedOrder = await limited.api.post("/api/orders", { hold_id: d });
    expect([refusedRelease.status, refusedOrder.status]).toEqual([429, 429]);
    expect(refusedOrder.body.code).toBe("too_many_requests");
    expect((await limited.api.get(`/api/products/${productId}`)).status).toBe(200);
    expect(await invariantViolations(limited.ctx.sql)).toEqual([]);
  });

  test("without TRUST_PROXY, X-Forwarded-For is ignored: one connection address, one bucket", async () => {
    limited.clock.now += 10_000;
    const productId = await createProduct(client(limited.ctx.app), 100);
    const replies: Reply[] = [];
    for (let i = 0; i < 11; i++) {
      replies.push(
        await limited.api.post(
          "/api/holds",
          { product_id: productId, qty: 1 },
          { "x-forwarded-for": `203.0.113.${i}` },
        ),
      );
    }
    expect(statuses(replies)).toEqual([...Array(10).fill(201), 429]);
    // The connection's address is the key: another address still has its whole bucket.
    expect(await holdFrom("127.0.0.2", limited.running.baseUrl, productId)).toBe(201);
    expect(await holdFrom("127.0.0.1", limited.running.baseUrl, productId)).toBe(429);
  });

  test("the limit comes from SHOPPER_RATE_PER_SECOND", () => {
    expect(limited.ctx.deps.rateLimiter?.ratePerSecond).toBe(5);
  });
});

describe("TRUST_PROXY=true: the last X-Forwarded-For address is the client", () => {
  const limited = useLimited({ SHOPPER_RATE_PER_SECOND: "1", TRUST_PROXY: "true" }, 1);

  test("each proxied client has its own bucket; what a client writes before the proxy's entry does not matter", async () => {
    const productId = await createProduct(client(limited.ctx.app), 100);
    const hold = (forwardedFor: string) =>
      limited.api.post(
        "/api/holds",
        { product_id: productId, qty: 1 },
        { "x-forwarded-for": forwardedFor },
      );
    // The client forges a new first entry each time; the proxy's own last entry stays.
    const alice = [];
    for (const forged of ["1.1.1.1", "2.2.2.2", "3.3.3.3"]) {
      alice.push(await hold(`${forged}, 198.51.100.7`));
    }
    expect(statuses(alice)).toEqual([201, 201, 429]);
    const bob = [
      await hold("198.51.100.8"),
      await hold("198.51.100.8"),
      await hold("198.51.100.8"),
    ];
    expect(statuses(bob)).toEqual([201, 201, 429]);
  });
});

describe("off by default", () => {
  test("no SHOPPER_RATE_PER_SECOND: no limiter, a burst of 50 from one address all pass", async () => {
    const ctx = await createTestContext();
    const running = serve(ctx.app);
    try {
      expect(ctx.deps.rateLimiter).toBeUndefined();
      // The hold route keeps its one handler: the limit wraps nothing when off.
      const handler = async () => new Response();
      expect(rateLimited(ctx.deps)(handler)).toBe(handler);
      const api = client(running.baseUrl);
      const productId = await createProduct(api, 100);
      const replies = await Promise.all(
        Array.from({ length: 50 }, () => api.post("/api/holds", { product_id: productId, qty: 1 })),
      );
      expect(statuses(replies)).toEqual(Array(50).fill(201));
      const orderId = await createOrder(api, replies[0]?.body.hold_id as number);
      expect(orderId).toBeGreaterThan(0);
    } finally {
      await running.stop();
      await ctx.close();
    }
  });
});
