import { describe, expect, test } from "bun:test";
import { useServers, useTestApp } from "./helpers/apps";
import {
  type Client,
  client,
  countBy,
  createHold,
  createProduct,
  type Reply,
} from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { settle, startServer, sumMetric } from "./helpers/processes";

// Real `bun src/index.ts` processes against one database, as several machines would run.

describe("three processes on one database", () => {
  const { ctx, servers, apis } = useServers(3, { HOLD_TTL_SECONDS: "2" });

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

describe("graceful shutdown", () => {
  const { ctx } = useTestApp();

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
