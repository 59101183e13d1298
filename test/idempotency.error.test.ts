import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { batching, client, createProduct } from "./helpers/fixtures";
import { createTestContext, rows } from "./helpers/harness";
import { newKey, withKey } from "./helpers/idempotency";
import { holdCount as countHolds, invariantViolations } from "./helpers/invariants";

// Every test with group reservation (the default) and with one transaction per request.
describe.each([["default"], ["1"]])("with HOLD_BATCH_MAX=%s", (batchMax) => {
  const { ctx, api } = useServedApp(batching(batchMax));

  const holdCount = (productId: number) => countHolds(ctx.sql, productId);

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
});
