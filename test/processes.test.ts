import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeDeps } from "../src/deps";
import { type Client, client, countBy, createHold, createProduct, type Reply } from "./fixtures";
import {
  buildProxiedApp,
  type buildTestApp,
  createTestContext,
  invariantViolations,
  rows,
  type TestContext,
} from "./helpers/harness";
import { type ServerProcess, startServer, sumMetric } from "./helpers/processes";
import type { TcpProxy } from "./helpers/tcp-proxy";

// Real `bun src/index.ts` processes against one database, as several machines would run.

async function settle<T>(work: Promise<T>): Promise<T | Error> {
  return work.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
}

describe("three processes on one database", () => {
  let ctx: TestContext;
  let servers: ServerProcess[];
  let apis: Client[];

  beforeAll(async () => {
    ctx = await createTestContext();
    servers = await Promise.all(
      [0, 1, 2].map(() => startServer(ctx.url, { HOLD_TTL_SECONDS: "2", DB_POOL_SIZE: "8" })),
    );
    apis = servers.map((s) => client(s.base));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop("SIGKILL")));
    await ctx.close();
  });

  test("400 concurrent holds over three processes at stock 100 → exactly 100 granted", async () => {
    const productId = await createProduct(apis[0] as Client, 100);
    const replies = await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        (apis[i % 3] as Client).post("/api/holds", { product_id: productId, qty: 1 }),
      ),
    );
    expect(countBy(replies, (r) => r.status)).toEqual({ "201": 100, "409": 300 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("concurrent and duplicate orders for the same holds across processes → one order per hold", async () => {
    const productId = await createProduct(apis[0] as Client, 100);
    const holds = await Promise.all(
      Array.from({ length: 20 }, () => createHold(apis[1] as Client, productId, 1)),
    );
    const replies = await Promise.all(
      holds.flatMap((holdId) => apis.map((api) => api.post("/api/orders", { hold_id: holdId }))),
    );
    expect(countBy(replies, (r) => r.status)).toEqual({ "201": 20, "409": 40 });
    const perHold = await rows<{ hold_id: number; n: number }>(
      ctx.sql,
      `SELECT hold_id, COUNT(*) AS n FROM orders WHERE hold_id IN (${holds.join(",")}) GROUP BY hold_id`,
    );
    expect(perHold).toHaveLength(20);
    expect(perHold.every((r) => r.n === 1)).toBe(true);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("the sweeper in all three processes releases each expired hold exactly once", async () => {
    const productId = await createProduct(apis[0] as Client, 200);
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => createHold(apis[i % 3] as Client, productId, 2)),
    );
    const deadline = Date.now() + 10_000;
    let active = 1;
    while (active > 0 && Date.now() < deadline) {
      await Bun.sleep(250);
      const [row] = await rows<{ n: number }>(
        ctx.sql,
        "SELECT COUNT(*) AS n FROM holds WHERE status = 'active'",
      );
      active = Number(row?.n);
    }
    expect(active).toBe(0);
    // Every expiry any process reports is one row turned expired: none was released twice.
    const [expired] = await rows<{ n: number }>(
      ctx.sql,
      "SELECT COUNT(*) AS n FROM holds WHERE status = 'expired'",
    );
    const reported = await sumMetric(
      servers.map((s) => s.base),
      "holds_expired_total",
    );
    expect(reported).toBe(Number(expired?.n));
    expect(Number(expired?.n)).toBeGreaterThanOrEqual(60);
    // Read from the database: another process's cache may be PRODUCT_CACHE_TTL_MS stale.
    const [product] = await rows<{ stock_reserved: number }>(
      ctx.sql,
      "SELECT stock_reserved FROM products WHERE id = ?",
      [productId],
    );
    expect(product?.stock_reserved).toBe(0);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("a process killed in the middle of a burst", () => {
  const SHOPPERS = 600;
  let ctx: TestContext;
  let servers: ServerProcess[];

  beforeAll(async () => {
    ctx = await createTestContext();
    servers = await Promise.all([0, 1, 2].map(() => startServer(ctx.url, { DB_POOL_SIZE: "8" })));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop("SIGKILL")));
    await ctx.close();
  });

  test("SIGKILL during holds, orders and webhooks: invariants hold and every 2xx is in the database", async () => {
    const apis = servers.map((s) => client(s.base));
    const productId = await createProduct(apis[0] as Client, 1000);
    const granted: number[] = [];
    const ordered: number[] = [];
    const events: string[] = [];

    let failed = 0;
    const shopper = async (i: number) => {
      const api = apis[i % 3] as Client;
      const hold = await settle(api.post("/api/holds", { product_id: productId, qty: 1 }));
      if (hold instanceof Error) failed++;
      if (hold instanceof Error || hold.status !== 201) return;
      granted.push(hold.body.hold_id as number);
      const order = await settle(api.post("/api/orders", { hold_id: hold.body.hold_id }));
      if (order instanceof Error || order.status !== 201) return;
      ordered.push(order.body.order_id as number);
      const key = `crash-${i}`;
      const paid = await settle(
        api.webhook({
          idempotency_key: key,
          order_id: order.body.order_id,
          status: i % 4 ? "succeeded" : "failed",
        }),
      );
      if (!(paid instanceof Error) && paid.status === 200) events.push(key);
    };

    const burst = Promise.all(Array.from({ length: SHOPPERS }, (_, i) => shopper(i)));
    await Bun.sleep(100);
    const victim = servers[1] as ServerProcess;
    await victim.stop("SIGKILL");
    await burst;

    servers[1] = await startServer(ctx.url, { DB_POOL_SIZE: "8" });
    console.info(
      `crash suite: ${SHOPPERS} shoppers, ${granted.length} holds, ${ordered.length} orders, ${events.length} webhooks answered 2xx; ${failed} hold requests got no answer when one of three processes was SIGKILLed mid-burst`,
    );
    expect(granted.length).toBeGreaterThan(0);
    const holdRows = await rows<{ id: number }>(
      ctx.sql,
      `SELECT id FROM holds WHERE id IN (${granted.join(",")})`,
    );
    expect(holdRows).toHaveLength(granted.length);
    if (ordered.length > 0) {
      const orderRows = await rows<{ id: number }>(
        ctx.sql,
        `SELECT id FROM orders WHERE id IN (${ordered.join(",")})`,
      );
      expect(orderRows).toHaveLength(ordered.length);
    }
    if (events.length > 0) {
      const eventRows = await rows<{ n: number }>(
        ctx.sql,
        `SELECT COUNT(*) AS n FROM payment_events WHERE idempotency_key IN (${events.map((e) => `'${e}'`).join(",")})`,
      );
      expect(eventRows[0]?.n).toBe(events.length);
    }
    expect(await invariantViolations(ctx.sql)).toEqual([]);
    expect(
      (await client((servers[1] as ServerProcess).base).get(`/api/products/${productId}`)).status,
    ).toBe(200);
  });
});

describe("database outage", () => {
  let ctx: TestContext;
  let proxy: TcpProxy;
  let viaProxy: ReturnType<typeof buildTestApp>;

  beforeAll(async () => {
    ctx = await createTestContext();
    ({ proxy, viaProxy } = buildProxiedApp(ctx, {
      DB_CONNECT_TIMEOUT_MS: "1000",
      REQUEST_TIMEOUT_MS: "2000",
      DB_LOCK_WAIT_TIMEOUT_SECONDS: "2",
    }));
  });
  afterAll(async () => {
    await closeDeps(viaProxy.deps);
    proxy.stop();
    await ctx.close();
  });

  test("cut: only 503s, none slow; restored: requests succeed again without a restart", async () => {
    const api = client(viaProxy.app);
    const productId = await createProduct(api, 1000);
    expect((await api.post("/api/holds", { product_id: productId, qty: 1 })).status).toBe(201);

    const timed = async () => {
      const started = performance.now();
      const reply = await api.post("/api/holds", { product_id: productId, qty: 1 });
      return {
        status: reply.status,
        code: reply.body.code,
        ms: performance.now() - started,
        retryAfter: reply.headers.get("retry-after"),
      };
    };
    proxy.cut();
    const during = await Promise.all(Array.from({ length: 30 }, timed));
    expect(countBy(during, (r) => r.status)).toEqual({ "503": 30 });
    expect(during.every((r) => r.code === "service_unavailable" && r.retryAfter === "1")).toBe(
      true,
    );
    expect(Math.max(...during.map((r) => r.ms))).toBeLessThan(2000 + 1500);
    expect((await api.get("/readyz")).status).toBe(503);

    proxy.restore();
    const deadline = Date.now() + 10_000;
    let recovered = false;
    while (!recovered && Date.now() < deadline) {
      recovered = (await timed()).status === 201;
      if (!recovered) await Bun.sleep(200);
    }
    console.info(
      `outage suite: ${during.length} requests during the cut, statuses ${JSON.stringify(countBy(during, (r) => r.status))}, slowest ${Math.round(Math.max(...during.map((r) => r.ms)))} ms; recovered after restore: ${recovered}`,
    );
    expect(recovered).toBe(true);
    expect((await api.get("/readyz")).status).toBe(200);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("graceful shutdown", () => {
  let ctx: TestContext;

  beforeAll(async () => {
    ctx = await createTestContext();
  });
  afterAll(() => ctx.close());

  test("SIGTERM during a burst: requests in flight complete, exit within 10 s, invariants hold", async () => {
    const server = await startServer(ctx.url);
    const api = client(server.base);
    const productId = await createProduct(api, 500);
    const burst = Promise.all(
      Array.from({ length: 300 }, () =>
        settle(api.post("/api/holds", { product_id: productId, qty: 1 })),
      ),
    );
    await Bun.sleep(30);
    const started = performance.now();
    server.proc.kill("SIGTERM");
    const code = await server.exited;
    const elapsed = performance.now() - started;
    const replies = await burst;
    expect(code).toBe(0);
    console.info(
      `shutdown suite: exit ${code} ${Math.round(elapsed)} ms after SIGTERM; ${replies.length - replies.filter((r) => r instanceof Error).length} of 300 requests answered, the rest refused at connect`,
    );
    expect(elapsed).toBeLessThan(10_000);
    const answered = replies.filter((r): r is Reply => !(r instanceof Error));
    // A request either got a real answer or never reached the closed socket; none got a 5xx.
    for (const r of answered) expect([201, 409]).toContain(r.status);
    const created = answered.filter((r) => r.status === 201);
    expect(created.length).toBeGreaterThan(0);
    const found = await rows<{ n: number }>(
      ctx.sql,
      `SELECT COUNT(*) AS n FROM holds WHERE id IN (${created.map((r) => r.body.hold_id).join(",")})`,
    );
    expect(found[0]?.n).toBe(created.length);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("WORKERS=2: a supervisor restarts a dead worker and stops them all on SIGTERM", async () => {
    const server = await startServer(ctx.url, { WORKERS: "2" });
    const api = client(server.base);
    const workers = () =>
      Bun.spawnSync(["pgrep", "-P", String(server.proc.pid)])
        .stdout.toString()
        .trim()
        .split("\n")
        .filter(Boolean);
    const first = workers();
    expect(first).toHaveLength(2);
    process.kill(Number(first[0]), "SIGKILL");
    const deadline = Date.now() + 10_000;
    let now = workers();
    while ((now.length < 2 || now.includes(first[0] as string)) && Date.now() < deadline) {
      await Bun.sleep(100);
      now = workers();
    }
    expect(now).toHaveLength(2);
    expect(now).not.toContain(first[0]);
    let ready = 0;
    while (ready !== 200 && Date.now() < deadline) {
      ready = (await api.get("/readyz").catch(() => ({ status: 0 }))).status;
    }
    expect(ready).toBe(200);
    expect(await server.stop("SIGTERM")).toBe(0);
    expect(workers()).toHaveLength(0);
  });
});
