import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { iso } from "./helpers/clock";
import { admin, type Client, client } from "./helpers/fixtures";
import { createTestContext, type TestContext } from "./helpers/harness";

// The product read's caching headers (contract: GET /api/products/:id): ETag moves with the
// product, If-None-Match answers 304, and max-age never reaches past the next window edge.

let ctx: TestContext;
let api: Client;
const TTL_SECONDS = 5;

beforeAll(async () => {
  ctx = await createTestContext({ PRODUCT_CACHE_TTL_MS: String(TTL_SECONDS * 1000 + 900) });
  api = client(ctx.app);
});
afterAll(() => ctx.close());

async function createProduct(window: Record<string, string> = {}): Promise<number> {
  const created = await api.post(
    "/api/admin/products",
    { name: "Cached sneaker", price_cents: 100, stock: 10, ...window },
    admin,
  );
  expect(created.status).toBe(201);
  return created.body.id as number;
}

const maxAge = (headers: Headers) =>
  Number(/^public, max-age=(\d+)$/.exec(headers.get("cache-control") ?? "")?.[1] ?? Number.NaN);

describe("happy: ETag and 304", () => {
  test("the same ETag while nothing changes, 304 for it, a new one after a change", async () => {
    const id = await createProduct();
    const first = await api.get(`/api/products/${id}`);
    const etag = first.headers.get("etag") ?? "";
    expect(etag).not.toBe("");
    expect(first.headers.get("cache-control")).toBe(`public, max-age=${TTL_SECONDS}`);
    expect((await api.get(`/api/products/${id}`)).headers.get("etag")).toBe(etag);

    const cached = await api.raw(`/api/products/${id}`, { headers: { "if-none-match": etag } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe("");
    expect(cached.headers.get("etag")).toBe(etag);
    expect(cached.headers.get("x-request-id")).not.toBeNull();
    const listed = await api.raw(`/api/products/${id}`, {
      headers: { "if-none-match": `"other", ${etag}` },
    });
    expect(listed.status).toBe(304);

    await api.post(`/api/admin/products/${id}/restock`, { qty: 1 }, admin);
    const changed = await api.raw(`/api/products/${id}`, { headers: { "if-none-match": etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    expect(((await changed.json()) as { stock_available: number }).stock_available).toBe(11);
  });

  test("a hold changes the ETag; another product's tag never matches", async () => {
    const [a, b] = [await createProduct(), await createProduct()];
    const tagA = (await api.get(`/api/products/${a}`)).headers.get("etag") ?? "";
    const other = await api.raw(`/api/products/${b}`, { headers: { "if-none-match": tagA } });
    expect(other.status).toBe(200);
    expect((await api.post("/api/holds", { product_id: a, qty: 1 })).status).toBe(201);
    const after = await api.get(`/api/products/${a}`);
    expect(after.headers.get("etag")).not.toBe(tagA);
  });
});

describe("happy: max-age at the window's edges", () => {
  test("an opening a few seconds away caps max-age at the seconds left", async () => {
    const opensAt = Date.now() + 2900;
    const id = await createProduct({ sale_starts_at: iso(opensAt) });
    const before = Date.now();
    const read = await api.get(`/api/products/${id}`);
    const after = Date.now();
    expect(read.body.sale_state).toBe("upcoming");
    const seconds = maxAge(read.headers);
    expect(seconds).toBeLessThanOrEqual(Math.floor((opensAt - before) / 1000));
    expect(seconds).toBeGreaterThanOrEqual(Math.floor((opensAt - after) / 1000));
  });

  test("an opening under a second away is served with max-age=0; once open, the TTL again", async () => {
    const opensAt = Date.now() + 800;
    const id = await createProduct({ sale_starts_at: iso(opensAt) });
    const read = await api.get(`/api/products/${id}`);
    // Read before the opening (as it nearly always is): nothing may cache it past the opening.
    if (read.body.sale_state === "upcoming") expect(maxAge(read.headers)).toBe(0);
    while (Date.now() < opensAt) await Bun.sleep(20);
    const open = await api.get(`/api/products/${id}`);
    expect(open.body.sale_state).toBe("live");
    expect(maxAge(open.headers)).toBe(TTL_SECONDS);
  });

  test("the end caps max-age too; after it, the TTL", async () => {
    const id = await createProduct({
      sale_starts_at: iso(Date.now() - 60_000),
      sale_ends_at: iso(Date.now() + 600_000),
    });
    expect(maxAge((await api.get(`/api/products/${id}`)).headers)).toBe(TTL_SECONDS);
    const closesAt = Date.now() + 2900;
    await api.patch(`/api/admin/products/${id}`, { sale_ends_at: iso(closesAt) }, admin);
    const before = Date.now();
    const read = await api.get(`/api/products/${id}`);
    expect(read.body.sale_state).toBe("live");
    expect(maxAge(read.headers)).toBeLessThanOrEqual(Math.floor((closesAt - before) / 1000));
    await api.patch(`/api/admin/products/${id}`, { sale_ends_at: iso(Date.now() - 1) }, admin);
    const ended = await api.get(`/api/products/${id}`);
    expect(ended.body.sale_state).toBe("ended");
    expect(maxAge(ended.headers)).toBe(TTL_SECONDS);
  });
});

describe("hostile: If-None-Match that is not ours", () => {
  test.each([
    ["garbage", "not a tag"],
    ["empty", ""],
    ["a tag of an old version", 'W/"1-0"'],
  ])("%s: 200 with the body", async (_name, value) => {
    const id = await createProduct();
    const read = await api.raw(`/api/products/${id}`, { headers: { "if-none-match": value } });
    expect(read.status).toBe(200);
    expect(((await read.json()) as { id: number }).id).toBe(id);
  });

  test("* matches any current representation: 304", async () => {
    const id = await createProduct();
    const read = await api.raw(`/api/products/${id}`, { headers: { "if-none-match": "*" } });
    expect(read.status).toBe(304);
  });
});
