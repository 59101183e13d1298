import { describe, expect, test } from "bun:test";
import { useTestApp } from "./helpers/apps";
import { ISO_MS } from "./helpers/clock";
import { admin, createHold, createOrder, createProduct } from "./helpers/fixtures";
import { pay } from "./helpers/payments";

// The operator's JSON: GET /api/admin/products and GET /api/admin/payment-conflicts.

const { api } = useTestApp();

describe("admin lists: auth and validation", () => {
  test.each(["/api/admin/products", "/api/admin/payment-conflicts"])(
    "%s needs the admin token",
    async (path) => {
      const anonymous = await api.get(path);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.code).toBe("unauthorized");
      expect(anonymous.headers.get("www-authenticate")).toBe("Bearer");
      const wrong = await api.get(path, { authorization: "Bearer not-the-token" });
      expect(wrong.status).toBe(401);
    },
  );

  test.each([
    ["limit=0"],
    ["limit=1001"],
    ["limit=-1"],
    ["limit=abc"],
    ["after_id=-5"],
    ["after_id=1.5"],
  ])("?%s is a 422 validation_failed", async (query) => {
    const reply = await api.get(`/api/admin/products?${query}`, admin);
    expect(reply.status).toBe(422);
    expect(reply.body.code).toBe("validation_failed");
  });
});

describe("GET /api/admin/products", () => {
  test("units paid and pending, sell-out time, and the product as GET returns it", async () => {
    const productId = await createProduct(api, 5);
    const paid = await createOrder(api, await createHold(api, productId, 2));
    await pay(api, paid, "succeeded", `paid-${productId}`);
    await createOrder(api, await createHold(api, productId, 1));
    const failed = await createOrder(api, await createHold(api, productId, 1));
    await pay(api, failed, "failed", `failed-${productId}`);
    const before = await api.get(`/api/admin/products?after_id=${productId - 1}&limit=1`, admin);
    expect(before.body.products).toEqual([
      {
        ...(await api.get(`/api/products/${productId}`)).body,
        units_paid: 2,
        units_pending: 1,
        sold_out_at: null,
      },
    ]);
    // The last 2 units: available reaches 0 for the first time.
    await createHold(api, productId, 2);
    const after = await api.get(`/api/admin/products?after_id=${productId - 1}&limit=1`, admin);
    const [report] = after.body.products as Record<string, unknown>[];
    expect(report?.available).toBe(0);
    expect(report?.sold_out_at).toMatch(ISO_MS);
    // Units coming back do not erase when it first sold out.
    const soldOutAt = report?.sold_out_at;
    await api.post(`/api/admin/products/${productId}/restock`, { qty: 3 }, admin);
    const restocked = await api.get(`/api/admin/products?after_id=${productId - 1}&limit=1`, admin);
    expect((restocked.body.products as Record<string, unknown>[])[0]?.sold_out_at).toBe(soldOutAt);
  });

  test("keyset pages: every product once, in id order, next_after_id null at the end", async () => {
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await createProduct(api, 1));
    const seen: number[] = [];
    let after = 0;
    for (let page = 0; page < 50; page++) {
      const reply = await api.get(`/api/admin/products?limit=2&after_id=${after}`, admin);
      expect(reply.status).toBe(200);
      const products = reply.body.products as { id: number }[];
      expect(products.length).toBeLessThanOrEqual(2);
      seen.push(...products.map((p) => p.id));
      if (reply.body.next_after_id === null) break;
      expect(reply.body.next_after_id).toBe(products.at(-1)?.id);
      after = reply.body.next_after_id as number;
    }
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of created) expect(seen).toContain(id);
    const defaults = await api.get("/api/admin/products", admin);
    expect(defaults.body.next_after_id).toBeNull();
  });
});

describe("GET /api/admin/payment-conflicts", () => {
  test("events that disagree with a final order: the refunds to make", async () => {
    const productId = await createProduct(api, 10);
    const orderId = await createOrder(api, await createHold(api, productId, 1));
    await pay(api, orderId, "succeeded", `first-${orderId}`);
    await pay(api, orderId, "succeeded", `agrees-${orderId}`);
    const conflict = await pay(api, orderId, "failed", `late-fail-${orderId}`);
    expect(conflict.body.conflict).toBe(true);
    const reply = await api.get("/api/admin/payment-conflicts", admin);
    expect(reply.status).toBe(200);
    const mine = (reply.body.conflicts as Record<string, unknown>[]).filter(
      (c) => c.order_id === orderId,
    );
    expect(mine).toEqual([
      {
        id: expect.any(Number),
        idempotency_key: `late-fail-${orderId}`,
        order_id: orderId,
        status: "failed",
        order_status: "paid",
        received_at: expect.stringMatching(ISO_MS),
        resolved_at: null,
        resolution: null,
      },
    ]);
    const next = await api.get(
      `/api/admin/payment-conflicts?after_id=${mine[0]?.id as number}`,
      admin,
    );
    expect(
      (next.body.conflicts as Record<string, unknown>[]).some((c) => c.order_id === orderId),
    ).toBe(false);
  });
});
