import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import mysql from "mysql2/promise";
import { migrateDatabase } from "../src/db/migrate";
import { client, countBy, createProduct, type Reply } from "./helpers/fixtures";
import { count, rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";
import { PrivateMariaDb } from "./helpers/private-mariadb";
import { type ServerProcess, startServer } from "./helpers/processes";

// A database process killed with SIGKILL mid-burst and started again on the same data.

const REQUEST_TIMEOUT_MS = 2000;

type Outcome = { kind: "hold" | "order" | "webhook"; key: string; reply: Reply; ms: number };

describe("the database killed with kill -9 in the middle of a burst", () => {
  let db: PrivateMariaDb;
  let server: ServerProcess;
  let sql: mysql.Pool;

  beforeAll(async () => {
    db = await PrivateMariaDb.create();
    const url = db.url("flash_sale_crash");
    await migrateDatabase(url);
    sql = mysql.createPool({ uri: url, connectionLimit: 2, timezone: "Z" });
    server = await startServer(url, {
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      DB_CONNECT_TIMEOUT_MS: "500",
      DB_POOL_SIZE: "16",
    });
  });
  afterAll(async () => {
    await server?.stop("SIGKILL");
    await sql?.end().catch(() => undefined);
    await db?.destroy();
  });

  test("every 2xx is in the database, every 503 left no trace, and service resumes without a restart", async () => {
    const api = client(server.base);
    const productId = await createProduct(api, 10_000);
    const outcomes: Outcome[] = [];
    const timed = async (kind: Outcome["kind"], key: string, call: () => Promise<Reply>) => {
      const started = performance.now();
      const reply = await call();
      outcomes.push({ kind, key, reply, ms: performance.now() - started });
      return reply;
    };
    // Every request carries a key, so that a 503's trace can be looked for afterwards.
    const shopper = async (id: string, n: number) => {
      const headers = { "idempotency-key": `h-${id}` };
      const hold = await timed("hold", `h-${id}`, () =>
        api.post("/api/holds", { product_id: productId, qty: 1 }, headers),
      );
      if (hold.status !== 201) return;
      const order = await timed("order", `o-${id}`, () =>
        api.post("/api/orders", { hold_id: hold.body.hold_id }, { "idempotency-key": `o-${id}` }),
      );
      if (order.status !== 201) return;
      await timed("webhook", `e-${id}`, () =>
        api.webhook({
          idempotency_key: `e-${id}`,
          order_id: order.body.order_id,
          status: n % 4 ? "succeeded" : "failed",
        }),
      );
    };

    const shoppers: Promise<void>[] = [];
    let servingAgainMs = Number.NaN;
    const chaos = (async () => {
      await Bun.sleep(400);
      await db.kill();
      await Bun.sleep(1200);
      await db.start();
      const restartedAt = performance.now();
      for (let i = 0; i < 100; i++) {
        const probe = await api.post("/api/holds", { product_id: productId, qty: 1 });
        if (probe.status === 201) {
          servingAgainMs = performance.now() - restartedAt;
          return;
        }
        await Bun.sleep(50);
      }
    })();
    // 40 shoppers every 50 ms for 3 s: a burst that spans the crash and the restart.
    for (let wave = 0; wave < 60; wave++) {
      for (let i = 0; i < 40; i++) shoppers.push(shopper(`${wave}-${i}`, i));
      await Bun.sleep(50);
    }
    await chaos;
    await Promise.all(shoppers);

    const byKind = (kind: Outcome["kind"], status: number) =>
      outcomes.filter((o) => o.kind === kind && o.reply.status === status).map((o) => o.key);
    const present = async (query: string, keys: string[]) =>
      keys.length === 0 ? 0 : Number((await rows<{ n: number }>(sql, query, [keys]))[0]?.n);
    const keyRows = "SELECT COUNT(*) AS n FROM idempotency_keys WHERE idempotency_key IN (?)";
    const eventRows = "SELECT COUNT(*) AS n FROM payment_events WHERE idempotency_key IN (?)";

    const granted = outcomes.filter((o) => o.kind === "hold" && o.reply.status === 201);
    const ordered = outcomes.filter((o) => o.kind === "order" && o.reply.status === 201);
    const unavailable = outcomes.filter((o) => o.reply.status === 503);
    const traces =
      (await present(keyRows, [...byKind("hold", 503), ...byKind("order", 503)])) +
      (await present(eventRows, byKind("webhook", 503)));
    const slowest = Math.max(...outcomes.map((o) => o.ms));
    // The outage itself is logged at error level once; anything else there explains a 500.
    const serverErrors = server.errors().filter((line) => !line.includes('"database lost'));
    console.info(
      `kill -9 suite: ${outcomes.length} requests, statuses ${JSON.stringify(countBy(outcomes, (o) => o.reply.status))}; 503s that left a trace: ${traces}; slowest answer ${Math.round(slowest)} ms; serving again ${Math.round(servingAgainMs)} ms after the database answered; server errors: ${serverErrors.length === 0 ? "none" : serverErrors.join(" | ")}`,
    );

    expect(unavailable.length).toBeGreaterThan(0);
    expect(granted.length).toBeGreaterThan(0);
    for (const o of outcomes) expect([200, 201, 503]).toContain(o.reply.status);
    for (const o of unavailable) {
      expect(o.reply.body.code).toBe("service_unavailable");
      expect(o.reply.headers.get("retry-after")).toBe("1");
    }
    expect(traces).toBe(0);
    // Never a hang: every request above was answered (a hung one would hold the test to its
    // timeout). How long the slowest took is a timing, printed above rather than asserted: it
    // is measured by this process, which queues its own 2,400 shoppers' sockets, and stretched
    // from 1.8 s to 13 s when other processes kept both cores busy.

    const holdIds = granted.map((o) => o.reply.body.hold_id);
    const orderIds = ordered.map((o) => o.reply.body.order_id);
    expect(await count(sql, "SELECT COUNT(*) AS n FROM holds WHERE id IN (?)", [holdIds])).toBe(
      holdIds.length,
    );
    if (orderIds.length > 0) {
      expect(await count(sql, "SELECT COUNT(*) AS n FROM orders WHERE id IN (?)", [orderIds])).toBe(
        orderIds.length,
      );
    }
    expect(await present(eventRows, byKind("webhook", 200))).toBe(byKind("webhook", 200).length);
    expect(await invariantViolations(sql)).toEqual([]);
    // Served again without a restart, within the probes' bounded loop.
    expect(Number.isFinite(servingAgainMs)).toBe(true);
  });
});
