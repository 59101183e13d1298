import { describe, expect, test } from "bun:test";
import { type CachedProduct, ProductCache } from "../src/state/product-cache";
import { StockHub } from "../src/state/stock-hub";

// The stream hub's specification, against an in-memory product source (the hub reads products
// only through the cache's peek and load; the HTTP and database side is stock-events.happy.test.ts).

function product(version: number, available: number): CachedProduct {
  const view = {
    id: 1,
    name: "Sneaker",
    price_cents: 100,
    stock_available: 10,
    stock_reserved: 10 - available,
    available,
    max_per_buyer: null,
    sale_starts_at: null,
    sale_ends_at: null,
    sale_state: "live" as const,
    waiting_room: null,
  };
  return new ProductCache(1000).offer(version, view);
}

function source(initial: CachedProduct) {
  let current = initial;
  let loads = 0;
  return {
    set: (next: CachedProduct) => {
      current = next;
    },
    get loads() {
      return loads;
    },
    peek: () => current,
    load: async () => {
      loads++;
      return current;
    },
  };
}

async function read(stream: ReadableStream<Uint8Array>, chunks: number): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  for (let i = 0; i < chunks; i++) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return text;
}

/** Everything the stream delivers until it has been quiet for `quietMs`. */
async function drain(stream: ReadableStream<Uint8Array>, quietMs: number): Promise<string> {
  const reader = stream.getReader();
  let text = "";
  for (;;) {
    const next = await Promise.race([reader.read(), Bun.sleep(quietMs).then(() => undefined)]);
    if (!next || next.done) break;
    text += new TextDecoder().decode(next.value);
  }
  reader.releaseLock();
  return text;
}

describe("stock hub", () => {
  test("the first event is sent at subscription, as `event: stock`, `id: <revision>`, `data: <product>`", async () => {
    const src = source(product(3, 10));
    const hub = new StockHub(src, { intervalMs: 10, maxStreams: 10 });
    const stream = hub.subscribe(product(3, 10));
    const { revision, body } = product(3, 10);
    expect(await read(stream, 1)).toBe(`event: stock\nid: ${revision}\ndata: ${body}\n\n`);
    await stream.cancel();
    expect(hub.streams).toBe(0);
  });

  test("changes between two ticks become one event carrying the latest state", async () => {
    const src = source(product(1, 10));
    const hub = new StockHub(src, { intervalMs: 50, maxStreams: 10 });
    const stream = hub.subscribe(product(1, 10));
    await read(stream, 1);
    src.set(product(2, 9));
    src.set(product(3, 8));
    src.set(product(4, 7));
    const next = await read(stream, 1);
    expect(next).toContain(`id: ${product(4, 7).revision}\n`);
    expect(next).toContain('"available":7');
    await stream.cancel();
  });

  test("a client that does not read gets only the latest state once it reads again", async () => {
    const src = source(product(1, 10));
    const hub = new StockHub(src, { intervalMs: 5, maxStreams: 10 });
    const stream = hub.subscribe(product(1, 10));
    for (let v = 2; v <= 40; v++) {
      src.set(product(v, 10 - (v % 10)));
      await Bun.sleep(6);
    }
    const text = await drain(stream, 50);
    const ids = [...text.matchAll(/id: (\d+)/g)].map((m) => Number(m[1]));
    // Its queue held a few events; the rest were skipped, and the newest came last.
    expect(ids.length).toBeLessThan(10);
    expect(ids.at(-1)).toBe(product(40, 10).revision);
    await stream.cancel();
  });

  test("every subscriber of a product shares one read per tick, and a comment keeps streams alive", async () => {
    const src = source(product(1, 10));
    const hub = new StockHub(
      { peek: () => undefined, load: src.load },
      { intervalMs: 20, maxStreams: 100, keepAliveMs: 30 },
    );
    const streams = Array.from({ length: 50 }, () => hub.subscribe(product(1, 10)));
    await Promise.all(streams.map((s) => read(s, 1)));
    await Bun.sleep(100);
    // ~5 ticks for 50 subscribers: one load per tick, not per subscriber.
    expect(src.loads).toBeGreaterThan(0);
    expect(src.loads).toBeLessThan(15);
    expect(await read(streams[0] as ReadableStream<Uint8Array>, 1)).toBe(": keep-alive\n\n");
    await Promise.all(streams.map((s) => s.cancel()));
    expect(hub.streams).toBe(0);
  });

  test("full at maxStreams; a cancelled stream frees its place at once", async () => {
    const src = source(product(1, 10));
    const hub = new StockHub(src, { intervalMs: 50, maxStreams: 2 });
    const a = hub.subscribe(product(1, 10));
    const b = hub.subscribe(product(1, 10));
    expect(hub.full).toBe(true);
    await a.cancel();
    expect(hub.full).toBe(false);
    await b.cancel();
    expect(hub.streams).toBe(0);
  });
});
