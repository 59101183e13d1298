import { beforeAll, describe, expect, test } from "bun:test";
import { useTestApp } from "./helpers/apps";
import { bearer, HS256, hs256, limitedProduct } from "./helpers/buyers";
import { invariantViolations } from "./helpers/invariants";

describe("each buyer sees only their own", () => {
  const { ctx, api } = useTestApp(HS256);
  let productId: number;

  beforeAll(async () => {
    productId = await limitedProduct(api, 100, null);
  });

  test("another buyer's hold or order is 404 for reading, releasing and ordering", async () => {
    const alice = bearer(await hs256({ sub: "alice" }));
    const bob = bearer(await hs256({ sub: "bob" }));
    const hold = await api.post("/api/holds", { product_id: productId, qty: 2 }, alice);
    const holdId = hold.body.hold_id as number;
    const other = await api.post("/api/holds", { product_id: productId, qty: 1 }, alice);

    expect((await api.get(`/api/holds/${holdId}`, bob)).body.code).toBe("hold_not_found");
    const release = await api.raw(`/api/holds/${holdId}`, { method: "DELETE", headers: bob });
    expect(release.status).toBe(404);
    const stolen = await api.post("/api/orders", { hold_id: holdId }, bob);
    expect(stolen.status).toBe(404);
    expect(stolen.body.code).toBe("hold_not_found");
    expect((await api.get(`/api/holds/${holdId}`, alice)).body.status).toBe("active");

    const order = await api.post("/api/orders", { hold_id: holdId }, alice);
    expect(order.status).toBe(201);
    const orderId = order.body.order_id as number;
    expect((await api.get(`/api/orders/${orderId}`, bob)).body.code).toBe("order_not_found");
    expect((await api.get(`/api/orders/${orderId}`, alice)).status).toBe(200);
    const released = await api.raw(`/api/holds/${other.body.hold_id}`, {
      method: "DELETE",
      headers: alice,
    });
    expect(released.status).toBe(200);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("the same Idempotency-Key from two buyers makes two holds; from one buyer, one", async () => {
    const key = { "idempotency-key": "same-key-for-everyone" };
    const alice = { ...bearer(await hs256({ sub: "alice-k" })), ...key };
    const bob = { ...bearer(await hs256({ sub: "bob-k" })), ...key };
    const [a, b, again] = [
      await api.post("/api/holds", { product_id: productId, qty: 1 }, alice),
      await api.post("/api/holds", { product_id: productId, qty: 1 }, bob),
      await api.post("/api/holds", { product_id: productId, qty: 1 }, alice),
    ];
    expect([a.status, b.status, again.status]).toEqual([201, 201, 201]);
    expect(a.body.hold_id).not.toBe(b.body.hold_id);
    expect(again.body.hold_id).toBe(a.body.hold_id);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(b.body.buyer_id).toBe("bob-k");
  });
});
