import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { useProxiedApp } from "./helpers/apps";
import { type Client, client, countBy, createProduct } from "./helpers/fixtures";
import { createTestContext, rows, type TestContext } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { type ServerProcess, settle, startServer } from "./helpers/processes";

// Real `bun src/index.ts` processes against one database, as several machines would run.

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
  const { ctx, proxy, viaProxy } = useProxiedApp({
    DB_CONNECT_TIMEOUT_MS: "1000",
    REQUEST_TIMEOUT_MS: "2000",
    DB_LOCK_WAIT_TIMEOUT_SECONDS: "2",
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
