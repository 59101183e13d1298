import { describe, expect, test } from "bun:test";
import { useTestApp } from "./helpers/apps";
import { ISO_MS } from "./helpers/clock";
import { admin, createHold, createProduct } from "./helpers/fixtures";
import { invariantViolations } from "./helpers/invariants";
import { expectAnswer } from "./helpers/payments";

const { ctx, api } = useTestApp();

describe("happy path", () => {
  test("product, hold, order and webhook shapes follow the contract", async () => {
    const created = await api.post(
      "/api/admin/products",
      { name: "Limited sneaker", price_cents: 12900, stock: 100 },
      admin,
    );
    expect(created.status).toBe(201);
    const productId = created.body.id as number;
    expect(created.body).toEqual({
      id: productId,
      name: "Limited sneaker",
      price_cents: 12900,
      stock_available: 100,
      stock_reserved: 0,
      available: 100,
      max_per_buyer: null,
      sale_starts_at: null,
      sale_ends_at: null,
      sale_state: "live",
      waiting_room: null,
    });

    const hold = await api.post("/api/holds", { product_id: productId, qty: 5 });
    expect(hold.status).toBe(201);
    expect(hold.body).toEqual({
      hold_id: expect.any(Number),
      product_id: productId,
      buyer_id: null,
      qty: 5,
      status: "active",
      expires_at: expect.stringMatching(ISO_MS),
    });
    const ttlMs = Date.parse(hold.body.expires_at as string) - Date.now();
    expect(ttlMs).toBeGreaterThan(100_000);
    expect(ttlMs).toBeLessThanOrEqual(121_000);

    const product = await api.get(`/api/products/${productId}`);
    expect(product.status).toBe(200);
    expect(product.headers.get("content-type")).toContain("application/json");
    expect(product.body).toMatchObject({ stock_available: 100, stock_reserved: 5, available: 95 });

    const holdId = hold.body.hold_id as number;
    expect((await api.get(`/api/holds/${holdId}`)).body).toEqual(hold.body);

    const order = await api.post("/api/orders", { hold_id: holdId });
    expect(order.status).toBe(201);
    expect(order.body).toEqual({
      order_id: expect.any(Number),
      hold_id: holdId,
      product_id: productId,
      buyer_id: null,
      qty: 5,
      unit_price_cents: 12900,
      total_cents: 64500,
      status: "pending",
      created_at: expect.stringMatching(ISO_MS),
    });
    const orderId = order.body.order_id as number;
    expect((await api.get(`/api/orders/${orderId}`)).body).toEqual(order.body);
    expect((await api.get(`/api/holds/${holdId}`)).body).toMatchObject({
      status: "converted",
      order_id: orderId,
    });
    expect((await api.get(`/api/products/${productId}`)).body).toMatchObject({
      stock_available: 95,
      stock_reserved: 0,
      available: 95,
    });

    const paid = await api.webhook({
      idempotency_key: "evt_1",
      order_id: orderId,
      status: "succeeded",
    });
    expectAnswer(paid, 200, orderId, "paid", "applied");
    expect((await api.get(`/api/orders/${orderId}`)).body.status).toBe("paid");
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("releasing a hold returns its units; releasing again changes nothing", async () => {
    const productId = await createProduct(api, 10);
    const holdId = await createHold(api, productId, 4);
    const released = await api.delete(`/api/holds/${holdId}`);
    expect(released.status).toBe(200);
    expect(released.body).toMatchObject({ hold_id: holdId, status: "released", qty: 4 });
    expect((await api.get(`/api/products/${productId}`)).body.available).toBe(10);
    const again = await api.delete(`/api/holds/${holdId}`);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(released.body);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("restock adds units", async () => {
    const productId = await createProduct(api, 3);
    const restocked = await api.post(
      `/api/admin/products/${productId}/restock`,
      { qty: 50 },
      admin,
    );
    expect(restocked.status).toBe(200);
    expect(restocked.body).toMatchObject({ id: productId, stock_available: 53, available: 53 });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("every response carries X-Request-Id, echoing a valid incoming one", async () => {
    const fresh = await api.get("/healthz");
    expect(fresh.headers.get("x-request-id")).toMatch(/^[\w-]{8,}$/);
    const echoed = await api.get("/api/products/999999", { "x-request-id": "client-abc-123" });
    expect(echoed.headers.get("x-request-id")).toBe("client-abc-123");
    const invalid = await api.get("/healthz", { "x-request-id": "bad id with spaces" });
    expect(invalid.headers.get("x-request-id")).not.toBe("bad id with spaces");
  });

  test("health and readiness", async () => {
    expect((await api.get("/healthz")).status).toBe(200);
    expect((await api.get("/readyz")).status).toBe(200);
  });
});
