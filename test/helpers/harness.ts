import { afterAll, beforeAll } from "bun:test";
import mysql from "mysql2/promise";
import { type App, createApp } from "../../src/app";
import { type Config, parseConfig } from "../../src/config";
import { migrateDatabase } from "../../src/db/migrate";
import { buildDeps, closeDeps } from "../../src/deps";
import type { Deps } from "../../src/deps-type";
import type { Logger } from "../../src/lib/logger";
import { TcpProxy } from "./tcp-proxy";

export const ADMIN_TOKEN = "test-admin-token-0123456789";
/** Every test app verifies webhooks with this secret; `signedWebhook` in the fixtures signs with it. */
export const WEBHOOK_SECRET = `whsec_${Buffer.from("flash-sale-harness-secret-32-byte").toString("base64")}`;
const serverUrl = process.env.DATABASE_URL ?? "mysql://root@127.0.0.1:3306/flash_sale";

let counter = 0;

export function databaseUrl(name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export type TestContext = {
  config: Config;
  deps: Deps;
  app: App;
  url: string;
  /** A pool of its own, for the tests' SQL checks. */
  sql: mysql.Pool;
  close: () => Promise<void>;
};

/** The real app over the database at `url`, configured as the tests need. */
export function buildTestApp(url: string, env: Record<string, string> = {}, logger?: Logger) {
  const config = parseConfig({
    LOG_LEVEL: "silent",
    ADMIN_TOKEN,
    WEBHOOK_SECRET,
    ...env,
    DATABASE_URL: url,
  });
  const deps = buildDeps(config, { logger });
  return { config, deps, app: createApp(deps) };
}

/** A fresh, migrated database for one test file, and the real app on top of it. */
export async function createTestContext(env: Record<string, string> = {}): Promise<TestContext> {
  const name = `fs_test_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const url = databaseUrl(name);
  await migrateDatabase(url);
  const { config, deps, app } = buildTestApp(url, env);
  const sql = mysql.createPool({ uri: url, connectionLimit: 4, timezone: "Z" });
  return {
    config,
    deps,
    app,
    url,
    sql,
    close: async () => {
      await closeDeps(deps);
      await sql.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
      await sql.end();
    },
  };
}

export type Running = { baseUrl: string; stop: () => Promise<void> };

export type ServedContext = TestContext & { baseUrl: string };

/**
 * A fresh database and the app on a real socket for a whole test file or describe block,
 * started in beforeAll and torn down in afterAll: race suites need truly concurrent requests.
 */
export function useServedContext(env: Record<string, string> = {}): () => ServedContext {
  let served: ServedContext | undefined;
  let running: Running | undefined;
  beforeAll(async () => {
    const ctx = await createTestContext({ DB_POOL_SIZE: "16", ...env });
    running = serve(ctx.app);
    served = { ...ctx, baseUrl: running.baseUrl };
  });
  afterAll(async () => {
    await running?.stop();
    await served?.close();
  });
  return () => {
    if (!served) throw new Error("useServedContext: used outside a test");
    return served;
  };
}

/** The app on a real socket, for races: requests then overlap in the server and the database. */
export function serve(app: App): Running {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", idleTimeout: 30, fetch: app.fetch });
  return { baseUrl: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

export async function rows<T = Record<string, unknown>>(
  pool: mysql.Pool,
  query: string,
  params: unknown[] = [],
): Promise<T[]> {
  const [result] = await pool.query(query, params);
  return result as T[];
}

/** The number a `SELECT COUNT(*) AS n ...` query answers. */
export async function count(
  pool: mysql.Pool,
  query: string,
  params: unknown[] = [],
): Promise<number> {
  const [row] = await rows<{ n: number }>(pool, query, params);
  return Number(row?.n);
}

/** The database's clock now, in ms since the epoch: the clock that decides sale windows. */
export async function databaseNow(pool: mysql.Pool): Promise<number> {
  const [row] = await rows<{ now: Date }>(pool, "SELECT NOW(3) AS now");
  if (!row) throw new Error("NOW(3) read nothing");
  return row.now.getTime();
}

/** How many orders a hold became: the contract allows at most one. */
export async function ordersOfHold(pool: mysql.Pool, holdId: number): Promise<number> {
  const [row] = await rows<{ n: number }>(
    pool,
    "SELECT COUNT(*) AS n FROM orders WHERE hold_id = ?",
    [holdId],
  );
  return Number(row?.n);
}

/**
 * Invariant 4: a buyer over a product's `max_per_buyer` is a violation unless every one of
 * their holds of it predates the limit's last change (lowering a limit keeps existing holds;
 * any hold granted since was checked against the new limit, and units only shrink otherwise).
 */
async function buyerLimitViolations(pool: mysql.Pool): Promise<string[]> {
  const over = await rows<{ product_id: number; buyer_id: Buffer; units: string; limit: number }>(
    pool,
    `SELECT p.id AS product_id, u.buyer_id, u.units, p.max_per_buyer AS \`limit\`
     FROM products p
     JOIN (SELECT product_id, buyer_id, SUM(qty) AS units FROM (
             SELECT product_id, buyer_id, qty FROM holds
             WHERE status = 'active' AND buyer_id IS NOT NULL
             UNION ALL
             SELECT product_id, buyer_id, qty FROM orders
             WHERE status IN ('pending', 'paid') AND buyer_id IS NOT NULL) AS owned
           GROUP BY product_id, buyer_id) u ON u.product_id = p.id
     WHERE p.max_per_buyer IS NOT NULL AND u.units > p.max_per_buyer
       AND EXISTS (SELECT 1 FROM holds h
                   WHERE h.product_id = p.id AND h.buyer_id = u.buyer_id
                     AND (p.max_per_buyer_set_at IS NULL OR h.created_at > p.max_per_buyer_set_at))`,
  );
  return over.map(
    (o) =>
      `product ${o.product_id}: buyer ${String(o.buyer_id)} has ${o.units} units, limit ${o.limit}`,
  );
}

/**
 * Invariant 6: no hold dated before its product's sale opened or from its end on. Checked
 * against the window as it stands now, so a test that moves a window past holds it granted
 * must check before the move.
 */
async function saleWindowViolations(pool: mysql.Pool): Promise<string[]> {
  const early = await rows<{ id: number; product_id: number; created_at: Date }>(
    pool,
    `SELECT h.id, h.product_id, h.created_at FROM holds h JOIN products p ON p.id = h.product_id
     WHERE h.created_at < p.sale_starts_at OR h.created_at >= p.sale_ends_at`,
  );
  return early.map(
    (h) =>
      `hold ${h.id} of product ${h.product_id}: created at ${h.created_at.toISOString()}, outside the sale window`,
  );
}

/**
 * Invariant 5: every order has exactly one `order.created`, a paid one exactly one
 * `order.paid`, a cancelled one exactly one `order.cancelled`, and no other order event; and no
 * order event names an order that does not exist (a rolled-back creation left its event).
 */
async function orderEventViolations(pool: mysql.Pool): Promise<string[]> {
  const wrong = await rows<{
    id: number;
    status: string;
    created: string;
    paid: string;
    cancelled: string;
  }>(
    pool,
    `SELECT o.id, o.status,
       COALESCE(SUM(e.type = 'order.created'), 0) AS created,
       COALESCE(SUM(e.type = 'order.paid'), 0) AS paid,
       COALESCE(SUM(e.type = 'order.cancelled'), 0) AS cancelled
     FROM orders o
     LEFT JOIN merchant_events e ON e.order_id = o.id AND e.type <> 'payment.conflict'
     GROUP BY o.id, o.status
     HAVING created <> 1 OR paid <> (o.status = 'paid') OR cancelled <> (o.status = 'cancelled')`,
  );
  const orphans = await rows<{ id: number; type: string; order_id: number }>(
    pool,
    `SELECT e.id, e.type, e.order_id FROM merchant_events e
     LEFT JOIN orders o ON o.id = e.order_id
     WHERE e.type <> 'payment.conflict' AND o.id IS NULL`,
  );
  return [
    ...wrong.map(
      (o) =>
        `order ${o.id} (${o.status}): ${o.created} order.created, ${o.paid} order.paid, ${o.cancelled} order.cancelled`,
    ),
    ...orphans.map(
      (e) => `event ${e.id} (${e.type}) names order ${e.order_id}, which does not exist`,
    ),
  ];
}

/**
 * The contract's invariants 1 to 6, checked in SQL for every product. `expectedTotals` maps a
 * product id to the units the test created, restocked and corrected (stock corrections count,
 * up and down), so invariant 3 does not trust any counter the service keeps.
 */
export async function invariantViolations(
  pool: mysql.Pool,
  expectedTotals?: Map<number, number>,
): Promise<string[]> {
  const products = await rows<{
    id: number;
    stock_available: number;
    stock_reserved: number;
    stock_total: number;
    held: string | null;
    ordered: string | null;
  }>(
    pool,
    `SELECT p.id, p.stock_available, p.stock_reserved, p.stock_total,
       (SELECT SUM(qty) FROM holds h WHERE h.product_id = p.id AND h.status = 'active') AS held,
       (SELECT SUM(qty) FROM orders o WHERE o.product_id = p.id AND o.status IN ('pending', 'paid')) AS ordered
     FROM products p`,
  );
  const problems: string[] = [];
  for (const p of products) {
    const held = Number(p.held ?? 0);
    const ordered = Number(p.ordered ?? 0);
    const total = expectedTotals?.get(p.id) ?? p.stock_total;
    if (p.stock_reserved !== held)
      problems.push(`product ${p.id}: stock_reserved ${p.stock_reserved} != active holds ${held}`);
    if (p.stock_reserved < 0 || p.stock_reserved > p.stock_available) {
      problems.push(
        `product ${p.id}: stock_reserved ${p.stock_reserved} outside 0..${p.stock_available}`,
      );
    }
    if (p.stock_available + ordered !== total) {
      problems.push(
        `product ${p.id}: available ${p.stock_available} + ordered ${ordered} != created ${total}`,
      );
    }
  }
  problems.push(...(await buyerLimitViolations(pool)));
  problems.push(...(await saleWindowViolations(pool)));
  problems.push(...(await orderEventViolations(pool)));
  return problems;
}

/**
 * InnoDB refreshes its INFORMATION_SCHEMA.INNODB_TRX snapshot only when it was last read more
 * than 100 ms ago: polling faster would see the same stale rows for ever.
 */
export const INNODB_TRX_REFRESH_MS = 150;

/**
 * Waits until at least `count` transactions of this test's database wait for a row lock, so
 * that a test can act while requests are provably blocked, without guessing with a sleep.
 */
export async function waitForLockWaits(pool: mysql.Pool, count: number): Promise<void> {
  const [[db]] = (await pool.query("SELECT DATABASE() AS name")) as unknown as [{ name: string }[]];
  for (let i = 0; i < 100; i++) {
    const [row] = await rows<{ n: number }>(
      pool,
      `SELECT COUNT(*) AS n FROM information_schema.innodb_trx t
       JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id
       WHERE t.trx_state = 'LOCK WAIT' AND p.db = ?`,
      [db?.name],
    );
    if (Number(row?.n) >= count) return;
    await Bun.sleep(INNODB_TRX_REFRESH_MS);
  }
  throw new Error(`fewer than ${count} transactions ever waited for a lock`);
}

/**
 * The app reaching the test's database through a TCP proxy, for outage tests: the proxy can
 * cut connections, hang new ones, or drop a chosen statement.
 */
export function buildProxiedApp(
  ctx: TestContext,
  env: Record<string, string> = {},
  logger?: Logger,
): { proxy: TcpProxy; viaProxy: ReturnType<typeof buildTestApp> } {
  const real = new URL(ctx.url);
  const proxy = new TcpProxy(real.hostname, Number(real.port || 3306));
  proxy.start();
  const url = new URL(ctx.url);
  url.port = String(proxy.port);
  return { proxy, viaProxy: buildTestApp(url.toString(), env, logger) };
}
