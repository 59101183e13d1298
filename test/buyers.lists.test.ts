import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { useTestApp } from "./helpers/apps";
import { bearer, expectUnauthorized, HS256, hs256, limitedProduct } from "./helpers/buyers";
import { type Client, client } from "./helpers/fixtures";
import { createTestContext, type TestContext } from "./helpers/harness";

// GET /api/orders and GET /api/holds: the calling buyer's own, newest first, paged back by id,
// filtered by status; never another buyer's; nothing to list without buyer tokens.

type Listed = { hold_id?: number; order_id?: number; buyer_id: string; status: string };

describe("a buyer's own lists", () => {
  let ctx: TestContext;
  let api: Client;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  const made = { holds: [] as number[], orders: [] as number[] };
  const status = new Map<number, string>();

  beforeAll(async () => {
    ctx = await createTestContext(HS256);
    api = client(ctx.app);
    alice = bearer(await hs256({ sub: "alice" }));
    bob = bearer(await hs256({ sub: "bob" }));
    const productId = await limitedProduct(api, 100, null);
    // Alice: 7 holds; 3 become orders (one paid, one failed), 1 released, 1 expired, 2 active.
    // Bob's holds and orders sit between hers, so the ids interleave.
    for (let i = 0; i < 7; i++) {
      const hold = await api.post("/api/holds", { product_id: productId, qty: 1 }, alice);
      made.holds.push(hold.body.hold_id as number);
      const his = await api.post("/api/holds", { product_id: productId, qty: 1 }, bob);
      if (i % 2 === 0) await api.post("/api/orders", { hold_id: his.body.hold_id }, bob);
    }
    for (const holdId of made.holds.slice(0, 3)) {
      const order = await api.post("/api/orders", { hold_id: holdId }, alice);
      made.orders.push(order.body.order_id as number);
      status.set(order.body.order_id as number, "pending");
    }
    const [paid, failed] = made.orders as [number, number];
    for (const [orderId, outcome] of [
      [paid, "succeeded"],
      [failed, "failed"],
    ] as const) {
      await api.webhook({ idempotency_key: `list-${orderId}`, order_id: orderId, status: outcome });
    }
    status.set(paid, "paid");
    status.set(failed, "cancelled");
    await api.raw(`/api/holds/${made.holds[3]}`, { method: "DELETE", headers: alice });
    // Past its expiry, not yet swept: read as expired.
    await ctx.sql.query("UPDATE holds SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?", [
      made.holds[4],
    ]);
  });
  afterAll(() => ctx.close());

  async function pages(
    path: string,
    key: "orders" | "holds",
    who: Record<string, string>,
    limit: number,
  ) {
    const seen: Listed[] = [];
    let before: number | null = null;
    for (;;) {
      const query = `limit=${limit}${before === null ? "" : `&before_id=${before}`}`;
      const page = await api.get(`${path}${path.includes("?") ? "&" : "?"}${query}`, who);
      expect(page.status).toBe(200);
      const items = page.body[key] as Listed[];
      expect(items.length).toBeLessThanOrEqual(limit);
      seen.push(...items);
      if (page.body.next_before_id === null) return seen;
      before = page.body.next_before_id as number;
    }
  }

  test("orders: newest first, every one of hers once whatever the page size, none of bob's, each as its single read shows it", async () => {
    for (const limit of [1, 2, 100]) {
      const listed = await pages("/api/orders", "orders", alice, limit);
      expect(listed.map((o) => o.order_id)).toEqual([...made.orders].reverse());
      for (const order of listed) {
        expect(order).toEqual(
          (await api.get(`/api/orders/${order.order_id}`, alice)).body as Listed,
        );
      }
    }
    const his = await pages("/api/orders", "orders", bob, 2);
    expect(his).toHaveLength(4);
    expect(his.every((o) => o.buyer_id === "bob")).toBe(true);
    expect(his.some((o) => made.orders.includes(o.order_id as number))).toBe(false);
  });

  test("orders by status", async () => {
    for (const wanted of ["pending", "paid", "cancelled"]) {
      const listed = await pages(`/api/orders?status=${wanted}`, "orders", alice, 1);
      const expected = made.orders.filter((id) => status.get(id) === wanted).reverse();
      expect([wanted, listed.map((o) => o.order_id)]).toEqual([wanted, expected]);
    }
  });

  test("holds: newest first over pages, the status each read shows (expired before the sweeper), order_id on converted ones, none of bob's", async () => {
    const listed = await pages("/api/holds", "holds", alice, 3);
    expect(listed.map((h) => h.hold_id)).toEqual([...made.holds].reverse());
    for (const hold of listed) {
      expect(hold).toEqual((await api.get(`/api/holds/${hold.hold_id}`, alice)).body as Listed);
    }
    const byStatus = async (wanted: string) =>
      (await pages(`/api/holds?status=${wanted}`, "holds", alice, 2)).map((h) => h.hold_id);
    const [h0, h1, h2, h3, h4, h5, h6] = made.holds;
    expect(await byStatus("converted")).toEqual([h2, h1, h0]);
    expect(await byStatus("released")).toEqual([h3]);
    expect(await byStatus("expired")).toEqual([h4]);
    expect(await byStatus("active")).toEqual([h6, h5]);
    const his = await pages("/api/holds", "holds", bob, 100);
    expect(his).toHaveLength(7);
    expect(his.every((h) => h.buyer_id === "bob")).toBe(true);
  });

  test("bad paging or status: 422; no token: 401", async () => {
    for (const query of [
      "limit=0",
      "limit=101",
      "limit=x",
      "before_id=0",
      "before_id=-3",
      "status=shipped",
    ]) {
      for (const path of ["/api/orders", "/api/holds"]) {
        const refused = await api.get(`${path}?${query}`, alice);
        expect([path, query, refused.status]).toEqual([path, query, 422]);
      }
    }
    expect((await api.get("/api/holds?status=pending", alice)).status).toBe(422);
    expect((await api.get("/api/orders?status=active", alice)).status).toBe(422);
    expectUnauthorized(await api.get("/api/orders"));
    expectUnauthorized(await api.get("/api/holds", bearer("not-a-token")));
  });
});

describe("without buyer tokens configured", () => {
  const { api } = useTestApp();

  test("there is no own: 401 for both lists, before the query is read", async () => {
    for (const path of [
      "/api/orders",
      "/api/holds",
      "/api/orders?limit=0",
      "/api/holds?status=x",
    ]) {
      const refused = await api.get(path);
      expectUnauthorized(refused);
      expect(refused.body.detail).toBe(
        "Listing one's own orders and holds needs buyer tokens, and none are configured.",
      );
    }
  });
});
