import { describe, expect, test } from "bun:test";
import { closeDeps } from "../src/deps";
import { useServedApp, useTestApp } from "./helpers/apps";
import { client, countBy, createProduct } from "./helpers/fixtures";
import { buildTestApp } from "./helpers/harness";
import { type EventStream, openEvents } from "./helpers/sse";

// GET /api/products/:id/events against real sockets: the contract's live stock.

describe("the stream limit", () => {
  const { ctx, api } = useServedApp({ STOCK_EVENTS_MAX_STREAMS: "2" });

  test("one more than STOCK_EVENTS_MAX_STREAMS is a 503; a disconnect frees its stream at once", async () => {
    const productId = await createProduct(api, 5);
    const url = `${ctx.baseUrl}/api/products/${productId}/events`;
    const [a, b] = [await openEvents(url), await openEvents(url)];
    await Promise.all([a.waitFor(() => true), b.waitFor(() => true)]);
    const refused = await openEvents(url);
    expect(refused.status).toBe(503);
    expect(refused.problem?.code).toBe("service_unavailable");
    expect(refused.headers.get("retry-after")).toBe("1");
    a.close();
    let reopened: EventStream | undefined;
    for (let i = 0; i < 50 && reopened?.status !== 200; i++) {
      await Bun.sleep(20);
      reopened = await openEvents(url);
    }
    expect(reopened?.status).toBe(200);
    expect(ctx.deps.stockHub.streams).toBe(2);
    reopened?.close();
    b.close();
  });
});

describe("the stream limit under a burst of opens", () => {
  const { ctx } = useTestApp({ STOCK_EVENTS_MAX_STREAMS: "50" });

  test("500 simultaneous opens of a product not in the cache: exactly 50 streams, 450 × 503", async () => {
    // Created through another app, so that this process must read the product first.
    const other = buildTestApp(ctx.url);
    const productId = await createProduct(client(other.app), 5);
    await closeDeps(other.deps);
    expect(ctx.deps.productCache.get(productId)).toBeUndefined();
    // In-process requests: fetch would stop at 256 open connections, the app has no such bound.
    const answers = await Promise.all(
      Array.from({ length: 500 }, () =>
        Promise.resolve(ctx.app.request(`/api/products/${productId}/events`)),
      ),
    );
    expect(countBy(answers, (r) => r.status)).toEqual({ 200: 50, 503: 450 });
    expect(ctx.deps.stockHub.streams).toBe(50);
    await Promise.all(answers.map((r) => r.body?.cancel()));
    expect(ctx.deps.stockHub.streams).toBe(0);
  });

  test("an open refused for an unknown product gives its place back", async () => {
    const answers = await Promise.all(
      Array.from({ length: 60 }, () =>
        Promise.resolve(ctx.app.request("/api/products/987654/events")),
      ),
    );
    expect(countBy(answers, (r) => r.status)).toEqual({ 404: 50, 503: 10 });
    expect(ctx.deps.stockHub.streams).toBe(0);
  });
});
