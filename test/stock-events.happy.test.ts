import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { client, createHold, createProduct } from "./helpers/fixtures";
import { buildTestApp, createTestContext, type TestContext } from "./helpers/harness";
import { type ServerProcess, startServer } from "./helpers/processes";
import { type EventStream, openEvents } from "./helpers/sse";

// GET /api/products/:id/events against real sockets: the contract's live stock.

const INTERVAL_MS = 100;
const TTL_MS = 500;

describe("live stock stream", () => {
  const { ctx, api } = useServedApp({
    STOCK_EVENTS_INTERVAL_MS: String(INTERVAL_MS),
    PRODUCT_CACHE_TTL_MS: String(TTL_MS),
  });
  const open: EventStream[] = [];
  const events = async (id: number | string) => {
    const stream = await openEvents(`${ctx.baseUrl}/api/products/${id}/events`);
    open.push(stream);
    return stream;
  };

  afterAll(() => {
    for (const stream of open) stream.close();
  });

  test("the first event comes at once: the product exactly as GET returns it", async () => {
    const productId = await createProduct(api, 10);
    const stream = await events(productId);
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    const first = await stream.waitFor(() => true);
    expect(first.event).toBe("stock");
    expect(Number.isInteger(first.id)).toBe(true);
    expect(first.data).toEqual((await api.get(`/api/products/${productId}`)).body);
  });

  test("a hold is pushed: the next event shows it", async () => {
    const productId = await createProduct(api, 10);
    const stream = await events(productId);
    await stream.waitFor(() => true);
    await createHold(api, productId, 3);
    const moved = await stream.waitFor((e) => e.data.available === 7);
    expect(moved.data).toMatchObject({ stock_reserved: 3, available: 7 });
  });

  test("a burst of 200 holds: events coalesced, ids growing, the final state arrives", async () => {
    const productId = await createProduct(api, 1000);
    const stream = await events(productId);
    await stream.waitFor(() => true);
    await Promise.all(
      Array.from({ length: 200 }, () => api.post("/api/holds", { product_id: productId, qty: 1 })),
    );
    const last = await stream.waitFor((e) => e.data.stock_reserved === 200);
    expect(last.data.available).toBe(800);
    const ids = stream.events.map((e) => e.id);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    console.info(`stream: 200 holds reached the subscriber as ${stream.events.length - 1} events`);
    expect(stream.events.length).toBeLessThan(200);
  });

  test("unknown product: 404 problem and no stream; bad id: 422", async () => {
    const missing = await events(987_654);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toBe("application/problem+json");
    expect(missing.problem?.code).toBe("product_not_found");
    const bad = await events("abc");
    expect(bad.status).toBe(422);
    expect(bad.problem?.code).toBe("validation_failed");
  });

  test("a write through another process arrives within PRODUCT_CACHE_TTL_MS plus the interval", async () => {
    const productId = await createProduct(api, 50);
    const stream = await events(productId);
    await stream.waitFor(() => true);
    const other = buildTestApp(ctx.url, {});
    try {
      const started = performance.now();
      const hold = await client(other.app).post("/api/holds", { product_id: productId, qty: 5 });
      expect(hold.status).toBe(201);
      const seen = await stream.waitFor((e) => e.data.available === 45, 5000);
      console.info(
        `stream: a write through another process arrived after ${Math.round(seen.at - started)} ms (TTL ${TTL_MS} + interval ${INTERVAL_MS})`,
      );
    } finally {
      await other.deps.pool.end();
    }
  });
});

describe("300 subscribers over two processes", () => {
  let ctx: TestContext;
  let servers: ServerProcess[];

  beforeAll(async () => {
    ctx = await createTestContext();
    servers = await Promise.all([0, 1].map(() => startServer(ctx.url, { DB_POOL_SIZE: "8" })));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop("SIGKILL")));
    await ctx.close();
  });

  test("all see the sell-out within 2.5 s", async () => {
    const api = client((servers[0] as ServerProcess).base);
    const productId = await createProduct(api, 20);
    const crowds = (servers as ServerProcess[]).map((server) => {
      const proc = Bun.spawn(
        [
          process.execPath,
          "test/helpers/sse-subscribers.ts",
          `${server.base}/api/products/${productId}/events`,
          "150",
          "10000",
          "sold-out",
        ],
        { stdout: "pipe", stderr: "inherit" },
      );
      return { proc, lines: lines(proc.stdout) };
    });
    try {
      for (const crowd of crowds) expect((await crowd.lines.next()).value).toEqual({ ready: 150 });
      const soldAt = Date.now();
      const holds = await Promise.all(
        Array.from({ length: 20 }, () => api.post("/api/holds", { product_id: productId, qty: 1 })),
      );
      expect(holds.every((h) => h.status === 201)).toBe(true);
      const seen: number[] = [];
      for (const crowd of crowds) {
        const result = (await crowd.lines.next()).value as { seen: number[] };
        seen.push(...result.seen);
      }
      const slowest = Math.max(...seen.map((at) => at - soldAt));
      console.info(
        `stream: 300 subscribers over two processes saw the sell-out, the last after ${Math.round(slowest)} ms`,
      );
      expect(seen).toHaveLength(300);
      expect(seen.every((at) => Number.isFinite(at))).toBe(true);
      expect(slowest).toBeLessThan(2500);
    } finally {
      for (const crowd of crowds) crowd.proc.kill();
    }
  });
});

/** JSON lines from a child's stdout, one at a time. */
async function* lines(stdout: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stdout) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf("\n");
    while (end !== -1) {
      yield JSON.parse(buffer.slice(0, end));
      buffer = buffer.slice(end + 1);
      end = buffer.indexOf("\n");
    }
  }
}
