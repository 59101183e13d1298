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

/**
 * The real app over the database at `url`, configured as the tests need. `HOLD_BATCH_MAX` from
 * the environment reaches every app that does not set its own, so that the whole suite runs with
 * `HOLD_BATCH_MAX=1` too (docs/testing.md); server processes inherit the environment anyway.
 */
export function buildTestApp(url: string, env: Record<string, string> = {}, logger?: Logger) {
  const batchMax = process.env.HOLD_BATCH_MAX;
  const config = parseConfig({
    LOG_LEVEL: "silent",
    ADMIN_TOKEN,
    WEBHOOK_SECRET,
    ...(batchMax === undefined ? {} : { HOLD_BATCH_MAX: batchMax }),
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

/** The number a `SELECT ... AS n` query answers (a `COUNT(*)`, or one row's column). */
export async function count(
  pool: mysql.Pool,
  query: string,
  params: unknown[] = [],
): Promise<number> {
  const [row] = await rows<{ n: number }>(pool, query, params);
  return Number(row?.n);
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
