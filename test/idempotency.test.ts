import { beforeAll, describe, expect, test } from "bun:test";
import { purgeExpiredKeys } from "../src/services/idempotency";
import {
  admin,
  batching,
  type Client,
  client,
  countBy,
  createHold,
  createProduct,
  patience,
} from "./fixtures";
import {
  createTestContext,
  invariantViolations,
  ordersOfHold,
  rows,
  type ServedContext,
  useServedContext,
} from "./helpers/harness";

// Every test with group reservation (the default) and with one transaction per request.
describe.each([["default"], ["1"]])("with HOLD_BATCH_MAX=%s", (batchMax) => {
  const served = useServedContext(batching(batchMax));
  let ctx: ServedContext;
  let api: Client;

  beforeAll(() => {
    ctx = served();
    api = client(ctx.baseUrl);
  });

  let n = 0;
  const newKey = () => `key-${++n}-${Math.random().toString(36).slice(2)}`;
  const withKey = (key: string) => ({ "idempotency-key": key });

  async function rawPost(path: string, body: unknown, key: string) {
    const res = await api.raw(path, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify(body),
    });
    return { status: res.status, text: await res.text(), headers: res.headers };
  }

  async function holdCount(productId: number): Promise<number> {
    const [row] = await rows<{ n: number }>(
      ctx.sql,
      "SELECT COUNT(*) AS n FROM holds WHERE product_id = ?",
      [productId],
    );
    return Number(row?.n);
  }

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

  describe("refusals", () => {
    test("the same key with a different body → 422 idempotency_key_reused", async () => {
      const productId = await createProduct(api, 10);
      const key = newKey();
      await api.post("/api/holds", { product_id: productId, qty: 1 }, withKey(key));
      const res = await api.post("/api/holds", { product_id: productId, qty: 2 }, withKey(key));
      expect(res.status).toBe(422);
      expect(res.body).toMatchObject({
        type: "about:blank",
        status: 422,
        code: "idempotency_key_reused",
      });
      expect(await holdCount(productId)).toBe(1);
    });

    test("a 422 is not remembered: the key can then be used for a valid request", async () => {
      const productId = await createProduct(api, 10);
      const key = newKey();
      expect(
        (await api.post("/api/holds", { product_id: productId, qty: "1" }, withKey(key))).status,
      ).toBe(422);
      expect(
        (await api.post("/api/holds", { product_id: productId, qty: 1 }, withKey(key))).status,
      ).toBe(201);
    });

    test("keys are scoped per endpoint", async () => {
      const productId = await createProduct(api, 10);
      const key = newKey();
      const hold = await api.post("/api/holds", { product_id: productId, qty: 1 }, withKey(key));
      const order = await api.post("/api/orders", { hold_id: hold.body.hold_id }, withKey(key));
      expect(order.status).toBe(201);
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

  describe("a key held by a request that does not finish", () => {
    test("a duplicate gives up after the lock wait timeout with 409 idempotency_key_in_progress", async () => {
      const impatient = await createTestContext({ DB_LOCK_WAIT_TIMEOUT_SECONDS: "1" });
      const holder = await impatient.sql.getConnection();
      try {
        const productId = await createProduct(client(impatient.app), 10);
        // Another process's transaction has claimed the key and not committed yet.
        await holder.query("BEGIN");
        await holder.query(
          "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, expires_at) VALUES ('POST /api/holds', 'stuck', ?, NOW(3) + INTERVAL 1 HOUR)",
          ["0".repeat(64)],
        );
        const res = await client(impatient.app).post(
          "/api/holds",
          { product_id: productId, qty: 1 },
          withKey("stuck"),
        );
        expect(res.status).toBe(409);
        expect(res.body).toMatchObject({ status: 409, code: "idempotency_key_in_progress" });
        await holder.query("ROLLBACK");
        const [held] = await rows<{ n: number }>(impatient.sql, "SELECT COUNT(*) AS n FROM holds");
        expect(held?.n).toBe(0);
        expect(await invariantViolations(impatient.sql)).toEqual([]);
      } finally {
        holder.release();
        await impatient.close();
      }
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
