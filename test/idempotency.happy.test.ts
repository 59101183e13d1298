import { describe, expect, test } from "bun:test";
import { purgeExpiredKeys } from "../src/services/idempotency";
import { useServedApp } from "./helpers/apps";
import { admin, batching, countBy, createHold, createProduct, patience } from "./helpers/fixtures";
import { newKey, postRaw, withKey } from "./helpers/idempotency";
import { holdCount as countHolds, invariantViolations, ordersOfHold } from "./helpers/invariants";

// Every test with group reservation (the default) and with one transaction per request.
describe.each([["default"], ["1"]])("with HOLD_BATCH_MAX=%s", (batchMax) => {
  const { ctx, api } = useServedApp(batching(batchMax));

  const rawPost = (path: string, body: unknown, key: string) => postRaw(api, path, body, key);
  const holdCount = (productId: number) => countHolds(ctx.sql, productId);

  describe("replays", () => {
    test("a 201 is replayed byte for byte and changes nothing", async () => {
      const productId = await createProduct(api, 10);
      const key = newKey();
      const first = await rawPost("/api/holds", { product_id: productId, qty: 2 }, key);
      expect(first.status).toBe(201);
      expect(first.headers.get("idempotent-replayed")).toBeNull();
      const second = await rawPost("/api/holds", { product_id: productId, qty: 2 }, key);
      expect(second.status).toBe(201);
      expect(second.text).toBe(first.text);
      expect(second.headers.get("idempotent-replayed")).toBe("true");
      expect(await holdCount(productId)).toBe(1);
      expect((await api.get(`/api/products/${productId}`)).body.available).toBe(8);
    });

    test("a 409 insufficient_stock is replayed even after a restock", async () => {
      const productId = await createProduct(api, 1);
      const key = newKey();
      const first = await rawPost("/api/holds", { product_id: productId, qty: 2 }, key);
      expect(first.status).toBe(409);
      await api.post(`/api/admin/products/${productId}/restock`, { qty: 10 }, admin);
      const second = await rawPost("/api/holds", { product_id: productId, qty: 2 }, key);
      expect(second.status).toBe(409);
      expect(second.text).toBe(first.text);
      expect(second.headers.get("content-type")).toBe("application/problem+json");
      expect(second.headers.get("idempotent-replayed")).toBe("true");
    });

    test("an order's 201 and a 410 are replayed", async () => {
      const productId = await createProduct(api, 10);
      const holdId = await createHold(api, productId, 1);
      const key = newKey();
      const first = await rawPost("/api/orders", { hold_id: holdId }, key);
      expect(first.status).toBe(201);
      const second = await rawPost("/api/orders", { hold_id: holdId }, key);
      expect(second).toMatchObject({ status: 201, text: first.text });

      const released = await createHold(api, productId, 1);
      await api.delete(`/api/holds/${released}`);
      const key2 = newKey();
      const gone = await rawPost("/api/orders", { hold_id: released }, key2);
      expect(gone.status).toBe(410);
      expect((await rawPost("/api/orders", { hold_id: released }, key2)).text).toBe(gone.text);
    });

    test("a 404 is remembered", async () => {
      const key = newKey();
      const first = await rawPost("/api/holds", { product_id: 999_999, qty: 1 }, key);
      expect(first.status).toBe(404);
      const second = await rawPost("/api/holds", { product_id: 999_999, qty: 1 }, key);
      expect(second.headers.get("idempotent-replayed")).toBe("true");
    });
  });

  describe("expiry of keys", () => {
    test.each([
      ["purged by the sweeper", true],
      ["expired but not yet purged", false],
    ])("a key %s behaves as new", async (_name, purge) => {
      const productId = await createProduct(api, 10);
      const key = newKey();
      await api.post("/api/holds", { product_id: productId, qty: 1 }, withKey(key));
      await ctx.sql.query(
        "UPDATE idempotency_keys SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE idempotency_key = ?",
        [key],
      );
      if (purge)
        expect(await purgeExpiredKeys(ctx.deps, 1000, patience())).toBeGreaterThanOrEqual(1);
      const again = await api.post("/api/holds", { product_id: productId, qty: 3 }, withKey(key));
      expect(again.status).toBe(201);
      expect(again.headers.get("idempotent-replayed")).toBeNull();
      expect(await holdCount(productId)).toBe(2);
    });
  });

  describe("concurrent duplicates", () => {
    test("20 concurrent holds with one key → one hold row; 201 with that hold or 409 in progress", async () => {
      const productId = await createProduct(api, 100);
      const key = newKey();
      const replies = await Promise.all(
        Array.from({ length: 20 }, () =>
          api.post("/api/holds", { product_id: productId, qty: 2 }, withKey(key)),
        ),
      );
      expect(await holdCount(productId)).toBe(1);
      const ok = replies.filter((r) => r.status === 201);
      expect(ok.length).toBeGreaterThanOrEqual(1);
      expect(new Set(ok.map((r) => r.body.hold_id)).size).toBe(1);
      for (const r of replies.filter((r) => r.status !== 201)) {
        expect(r.status).toBe(409);
        expect(r.body.code).toBe("idempotency_key_in_progress");
      }
      expect((await api.get(`/api/products/${productId}`)).body.available).toBe(98);
      expect(await invariantViolations(ctx.sql)).toEqual([]);
    });

    test("20 concurrent orders with one key → one order; 201 with that order or 409 in progress", async () => {
      const productId = await createProduct(api, 100);
      const holdId = await createHold(api, productId, 2);
      const key = newKey();
      const replies = await Promise.all(
        Array.from({ length: 20 }, () =>
          api.post("/api/orders", { hold_id: holdId }, withKey(key)),
        ),
      );
      const counts = countBy(replies, (r) => r.status);
      expect(Object.keys(counts).every((s) => s === "201" || s === "409")).toBe(true);
      const ok = replies.filter((r) => r.status === 201);
      expect(new Set(ok.map((r) => r.body.order_id)).size).toBe(1);
      for (const r of replies.filter((r) => r.status === 409))
        expect(r.body.code).toBe("idempotency_key_in_progress");
      expect(await ordersOfHold(ctx.sql, holdId)).toBe(1);
      expect(await invariantViolations(ctx.sql)).toEqual([]);
    });

    test("many keys at once on one hot product: one hold per key", async () => {
      const productId = await createProduct(api, 1000);
      const keys = Array.from({ length: 30 }, newKey);
      const replies = await Promise.all(
        [...keys, ...keys, ...keys].map((key) =>
          api.post("/api/holds", { product_id: productId, qty: 1 }, withKey(key)),
        ),
      );
      expect(replies.every((r) => r.status === 201 || r.status === 409)).toBe(true);
      expect(await holdCount(productId)).toBe(30);
      expect(await invariantViolations(ctx.sql)).toEqual([]);
    });
  });

  describe("keys compare byte for byte", () => {
    test("keys differing only in case are different keys", async () => {
      const productId = await createProduct(api, 10);
      const replies = [];
      for (const key of ["Order-1", "order-1", "ORDER-1"]) {
        replies.push(await api.post("/api/holds", { product_id: productId, qty: 1 }, withKey(key)));
      }
      expect(replies.map((r) => r.status)).toEqual([201, 201, 201]);
      expect(new Set(replies.map((r) => r.body.hold_id)).size).toBe(3);
    });
  });
});
