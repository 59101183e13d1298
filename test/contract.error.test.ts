import { describe, expect, test } from "bun:test";
import { closeDeps } from "../src/deps";
import { useTestApp } from "./helpers/apps";
import { problem } from "./helpers/contract";
import { admin, client, createHold, createOrder, createProduct } from "./helpers/fixtures";
import { buildTestApp, createTestContext } from "./helpers/harness";
import { invariantViolations, storedHold } from "./helpers/invariants";

const { ctx, api } = useTestApp();

describe("error codes", () => {
  test("400 malformed_json", async () => {
    const res = await api.post("/api/holds", '{"product_id": 1,');
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.body).toEqual(problem("malformed_json", 400));
  });

  test("401 unauthorized without or with a wrong token", async () => {
    const none = await api.post("/api/admin/products", { name: "x", price_cents: 1, stock: 1 });
    expect(none.status).toBe(401);
    expect(none.body).toEqual(problem("unauthorized", 401));
    const wrong = await api.post(
      "/api/admin/products",
      { name: "x", price_cents: 1, stock: 1 },
      { authorization: "Bearer nope" },
    );
    expect(wrong.body).toEqual(problem("unauthorized", 401));
  });

  test("401 unauthorized on every admin route when ADMIN_TOKEN is unset", async () => {
    const bare = await createTestContext({ ADMIN_TOKEN: "" });
    try {
      const res = await client(bare.app).post(
        "/api/admin/products",
        { name: "x", price_cents: 1, stock: 1 },
        admin,
      );
      expect(res.body).toEqual(problem("unauthorized", 401));
      const restock = await client(bare.app).post(
        "/api/admin/products/1/restock",
        { qty: 1 },
        admin,
      );
      expect(restock.body).toEqual(problem("unauthorized", 401));
    } finally {
      await bare.close();
    }
  });

  test("404 not_found for an unknown route", async () => {
    const res = await api.get("/api/nothing-here");
    expect(res.status).toBe(404);
    expect(res.body).toEqual(problem("not_found", 404));
  });

  test("404 product_not_found, hold_not_found, order_not_found", async () => {
    expect((await api.get("/api/products/987654")).body).toEqual(problem("product_not_found", 404));
    expect((await api.post("/api/holds", { product_id: 987654, qty: 1 })).body).toEqual(
      problem("product_not_found", 404),
    );
    expect((await api.get("/api/holds/987654")).body).toEqual(problem("hold_not_found", 404));
    expect((await api.delete("/api/holds/987654")).body).toEqual(problem("hold_not_found", 404));
    expect((await api.post("/api/orders", { hold_id: 987654 })).body).toEqual(
      problem("hold_not_found", 404),
    );
    expect((await api.get("/api/orders/987654")).body).toEqual(problem("order_not_found", 404));
    expect((await api.post("/api/admin/products/987654/restock", { qty: 1 }, admin)).body).toEqual(
      problem("product_not_found", 404),
    );
  });

  test("409 insufficient_stock says how many are available", async () => {
    const productId = await createProduct(api, 3);
    const res = await api.post("/api/holds", { product_id: productId, qty: 5 });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      ...problem("insufficient_stock", 409),
      available: 3,
      detail: "Only 3 units are available.",
    });
  });

  test("409 hold_already_used carries the order id, for orders and releases", async () => {
    const productId = await createProduct(api, 5);
    const holdId = await createHold(api, productId, 2);
    const orderId = await createOrder(api, holdId);
    const again = await api.post("/api/orders", { hold_id: holdId });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ ...problem("hold_already_used", 409), order_id: orderId });
    const release = await api.delete(`/api/holds/${holdId}`);
    expect(release.body).toEqual({ ...problem("hold_already_used", 409), order_id: orderId });
  });

  test("410 hold_released", async () => {
    const productId = await createProduct(api, 5);
    const holdId = await createHold(api, productId, 2);
    await api.delete(`/api/holds/${holdId}`);
    const res = await api.post("/api/orders", { hold_id: holdId });
    expect(res.status).toBe(410);
    expect(res.body).toEqual(problem("hold_released", 410));
  });

  test("410 hold_expired once expires_at has passed, swept or not", async () => {
    const productId = await createProduct(api, 5);
    const holdId = await createHold(api, productId, 2);
    await ctx.sql.query("UPDATE holds SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?", [
      holdId,
    ]);
    expect((await api.get(`/api/holds/${holdId}`)).body.status).toBe("expired");
    const res = await api.post("/api/orders", { hold_id: holdId });
    expect(res.status).toBe(410);
    expect(res.body).toEqual(problem("hold_expired", 410));
    const hold = await storedHold(ctx.sql, holdId);
    expect(hold?.status).toBe("expired");
    expect((await api.get(`/api/products/${productId}`)).body.available).toBe(5);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("413 payload_too_large over 16 KiB", async () => {
    const res = await api.post("/api/holds", { product_id: 1, qty: 1, pad: "x".repeat(20 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body).toEqual(problem("payload_too_large", 413));
  });

  test("415 unsupported_media_type", async () => {
    const res = await api.raw("/api/holds", {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "{}",
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual(problem("unsupported_media_type", 415));
  });

  test("422 validation_failed lists the fields", async () => {
    const res = await api.post("/api/holds", { product_id: 1, qty: "5" });
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      ...problem("validation_failed", 422),
      errors: [{ path: "qty", message: expect.any(String) }],
    });
  });

  test("422 for a restock that would overflow the stock counters", async () => {
    const productId = await createProduct(api, 1_000_000_000);
    await api.post(`/api/admin/products/${productId}/restock`, { qty: 1_000_000_000 }, admin);
    const res = await api.post(
      `/api/admin/products/${productId}/restock`,
      { qty: 1_000_000_000 },
      admin,
    );
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      ...problem("validation_failed", 422),
      errors: [{ path: "qty", message: expect.any(String) }],
    });
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(2_000_000_000);
  });

  test("422 for qty above MAX_HOLD_QTY", async () => {
    const productId = await createProduct(api, 500);
    const res = await api.post("/api/holds", { product_id: productId, qty: 101 });
    expect(res.status).toBe(422);
    expect(res.body.errors).toEqual([{ path: "qty", message: expect.any(String) }]);
  });

  test("500 internal_error says nothing internal", async () => {
    const broken = await createTestContext();
    try {
      await broken.sql.query("DROP TABLE idempotency_keys");
      const res = await client(broken.app).post(
        "/api/holds",
        { product_id: 1, qty: 1 },
        { "idempotency-key": "k" },
      );
      expect(res.status).toBe(500);
      expect(res.body).toEqual(problem("internal_error", 500));
      expect(JSON.stringify(res.body)).not.toContain("idempotency_keys");
    } finally {
      await broken.close();
    }
  });

  test("503 service_unavailable with Retry-After when the database is gone", async () => {
    // Nothing listens on port 1: every connection is refused.
    const gone = buildTestApp("mysql://root@127.0.0.1:1/flash_sale", {
      DB_CONNECT_TIMEOUT_MS: "500",
    });
    try {
      const res = await client(gone.app).get("/api/holds/1");
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(res.body).toEqual(problem("service_unavailable", 503));
      const ready = await client(gone.app).get("/readyz");
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual(problem("service_unavailable", 503));
    } finally {
      await closeDeps(gone.deps);
    }
  });
});
