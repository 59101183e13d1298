import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startSweeper } from "../src/jobs/sweeper";
import { admin, client, createHold, createProduct } from "./helpers/fixtures";
import { createTestContext, type TestContext } from "./helpers/harness";
import { type ServerProcess, startServer } from "./helpers/processes";
import { promtool, requirePromtool, samples } from "./helpers/promtool";
import { until } from "./helpers/until";

// What /metrics tells an operator: one scrape for every worker, true process figures, the
// pool, the hold queues and the sweeper.

const scrape = async (target: TestContext["app"] | string): Promise<string> =>
  typeof target === "string"
    ? (await fetch(`${target}/metrics`)).text()
    : (await target.request("/metrics")).text();

const sampleOf = (text: string, name: string, labels = ""): number | undefined =>
  samples(text, name).find((s) => s.labels.includes(labels))?.value;

describe("one process", () => {
  let ctx: TestContext;
  beforeAll(async () => {
    await requirePromtool();
    // Its queue depths are those of batches as large as the default's, whatever the run's.
    ctx = await createTestContext({
      HOLD_BATCH_MAX: "1024",
      DB_POOL_SIZE: "2",
      DB_LOCK_WAIT_TIMEOUT_SECONDS: "120",
      REQUEST_TIMEOUT_MS: "120000",
    });
  });
  afterAll(() => ctx?.close());

  test("hold queue depth per product, pool in use and waiting, while a row lock holds them", async () => {
    const api = client(ctx.app);
    const [a, b, c] = [
      await createProduct(api, 10),
      await createProduct(api, 10),
      await createProduct(api, 10),
    ];
    const lock = await ctx.sql.getConnection();
    await lock.query("BEGIN");
    await lock.query("SELECT id FROM products WHERE id IN (?, ?, ?) FOR UPDATE", [a, b, c]);
    // Product a: five holds in line behind one locked batch, which has one connection.
    // Product b: one hold, the pool's second connection. Product c: waits for a connection.
    const holds = [
      ...Array.from({ length: 5 }, () => api.post("/api/holds", { product_id: a, qty: 1 })),
      api.post("/api/holds", { product_id: b, qty: 1 }),
    ];
    const blocked = await until(
      () => scrape(ctx.app),
      (text) => sampleOf(text, "db_pool_connections", 'state="in_use"') === 2,
    );
    holds.push(api.post("/api/holds", { product_id: c, qty: 1 }));
    const text = await until(
      () => scrape(ctx.app),
      (t) => sampleOf(t, "db_pool_waiting_requests") === 1,
    );
    expect(sampleOf(blocked, "db_pool_connections", 'state="idle"')).toBe(0);
    expect(sampleOf(text, "db_pool_waiting_requests")).toBe(1);
    expect(sampleOf(text, "db_pool_max_connections")).toBe(2);
    expect(samples(text, "hold_queue_depth")).toEqual([
      { labels: `{product_id="${a}"}`, value: 5 },
      { labels: `{product_id="${b}"}`, value: 1 },
      { labels: `{product_id="${c}"}`, value: 1 },
    ]);
    expect(promtool(["check", "metrics"], text).output).toBe("");
    await lock.query("ROLLBACK");
    lock.release();
    expect((await Promise.all(holds)).map((r) => r.status)).toEqual(Array(7).fill(201));
    const after = await scrape(ctx.app);
    expect(samples(after, "hold_queue_depth")).toEqual([]);
    expect(sampleOf(after, "db_pool_waiting_requests")).toBe(0);
    expect(sampleOf(after, "db_pool_connections", 'state="in_use"')).toBe(0);
  });

  test("the sweeper counts its runs and how overdue the holds it returned were", async () => {
    const api = client(ctx.app);
    const productId = await createProduct(api, 5);
    const holdId = await createHold(api, productId, 2);
    await ctx.sql.query("UPDATE holds SET expires_at = NOW(3) - INTERVAL 7 SECOND WHERE id = ?", [
      holdId,
    ]);
    const job = startSweeper(ctx.deps);
    try {
      const text = await until(
        () => scrape(ctx.app),
        (t) => (sampleOf(t, "sweeper_lag_seconds_count") ?? 0) >= 1,
      );
      expect(sampleOf(text, "sweeper_lag_seconds_count")).toBe(1);
      // The hold had been expired 7 s (database clock) when the sweeper returned it.
      expect(sampleOf(text, "sweeper_lag_seconds_sum")).toBeGreaterThanOrEqual(7);
      expect(sampleOf(text, "sweeper_lag_seconds_bucket", 'le="5"')).toBe(0);
      expect(sampleOf(text, "sweeper_runs_total")).toBeGreaterThanOrEqual(1);
      expect(sampleOf(text, "holds_expired_total", 'by="sweeper"')).toBe(1);
    } finally {
      job.stop();
    }
  });

  test("no default figure Bun reports wrongly", async () => {
    const text = await scrape(ctx.app);
    for (const name of [
      "process_heap_bytes",
      "nodejs_heap_size_used_bytes",
      "nodejs_heap_size_total_bytes",
      "nodejs_heap_space_size_used_bytes",
      "nodejs_version_info",
    ]) {
      expect(samples(text, name)).toEqual([]);
      expect(text).not.toContain(`# TYPE ${name} `);
    }
    expect(sampleOf(text, "process_resident_memory_bytes")).toBeGreaterThan(0);
  });
});

describe("WORKERS=2: one scrape answers for both processes", () => {
  let ctx: TestContext;
  let server: ServerProcess | undefined;
  const REQUESTS = 120;
  const route = 'method="GET",route="/api/products/:id",status="200"';

  beforeAll(async () => {
    await requirePromtool();
    ctx = await createTestContext();
    server = await startServer(ctx.url, { WORKERS: "2", DB_POOL_SIZE: "4" });
  });
  afterAll(async () => {
    await server?.stop();
    await ctx?.close();
  });

  test("counters add up to the requests sent, in every scrape, and promtool accepts them", async () => {
    const base = server?.base ?? "";
    const api = client(base);
    const created = await api.post(
      "/api/admin/products",
      { name: "Limited sneaker", price_cents: 100, stock: 5 },
      admin,
    );
    const productId = created.body.id as number;
    // Both workers up and answering the relay (the supervisor starts them one after the other).
    await until(
      () => scrape(base),
      (t) =>
        samples(t, "process_start_time_seconds").length === 2 &&
        sampleOf(t, "metrics_scrape_workers_missing") === 0,
    );
    // A new connection each, so the kernel spreads them over both workers.
    for (let sent = 0; sent < REQUESTS; sent += 10) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          fetch(`${base}/api/products/${productId}`, { headers: { connection: "close" } }),
        ),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
    }
    const scrapes = [];
    for (let i = 0; i < 6; i++) scrapes.push(await scrape(base));
    const perWorker = scrapes.map((text) =>
      samples(text, "http_requests_total")
        .filter((s) => s.labels.includes(route))
        .map((s) => `${s.labels.replace(/.*worker="(\d+)".*/, "$1")}=${s.value}`)
        .sort(),
    );
    for (const [i, text] of scrapes.entries()) {
      expect(sampleOf(text, "metrics_scrape_workers_missing")).toBe(0);
      expect(perWorker[i]).toEqual(perWorker[0] as string[]);
      const counts = samples(text, "http_requests_total").filter((s) => s.labels.includes(route));
      expect(counts.map((s) => s.labels.match(/worker="(\d+)"/)?.[1]).sort()).toEqual(["1", "2"]);
      expect(counts.every((s) => s.value > 0)).toBe(true);
      expect(counts.reduce((sum, s) => sum + s.value, 0)).toBe(REQUESTS);
      // One HELP and TYPE per name however many workers: promtool refuses duplicates.
      expect(promtool(["check", "metrics"], text).output).toBe("");
    }
    const last = scrapes.at(-1) ?? "";
    for (const worker of ["1", "2"]) {
      const label = `worker="${worker}"`;
      const size = sampleOf(last, "bun_heap_size_bytes", label) ?? Number.NaN;
      const rss = sampleOf(last, "process_resident_memory_bytes", label) ?? Number.NaN;
      expect(size).toBeGreaterThan(0);
      expect(size).toBeLessThan(rss);
      expect(sampleOf(last, "db_pool_max_connections", label)).toBe(4);
    }
    expect(samples(last, "process_heap_bytes")).toEqual([]);
  });
});
