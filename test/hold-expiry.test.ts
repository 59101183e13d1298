import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Cron } from "croner";
import { startSweeper } from "../src/jobs/sweeper";
import { useTestApp } from "./helpers/apps";
import { type Client, client, createHold, createOrder, createProduct } from "./helpers/fixtures";
import { createTestContext, type TestContext } from "./helpers/harness";
import { invariantViolations, storedHold } from "./helpers/invariants";
import { until } from "./helpers/until";

describe("expiry with the sweeper running", () => {
  let ctx: TestContext;
  let api: Client;
  let sweeper: Cron;

  beforeAll(async () => {
    ctx = await createTestContext({ HOLD_TTL_SECONDS: "1", ORDER_PAYMENT_TIMEOUT_SECONDS: "1" });
    api = client(ctx.app);
    sweeper = startSweeper(ctx.deps);
  });
  afterAll(async () => {
    sweeper.stop();
    await ctx.close();
  });

  test("an expired hold's units come back without any request", async () => {
    const productId = await createProduct(api, 10);
    const holdId = await createHold(api, productId, 4);
    expect((await api.get(`/api/products/${productId}`)).body.available).toBe(6);
    const hold = await until(
      () => storedHold(ctx.sql, holdId),
      (stored) => stored?.status === "expired",
      { tries: 80, everyMs: 100 },
    );
    expect(hold?.status).toBe("expired");
    expect((await api.get(`/api/products/${productId}`)).body).toMatchObject({
      stock_reserved: 0,
      available: 10,
    });
    expect((await api.get(`/api/holds/${holdId}`)).body.status).toBe("expired");
    const order = await api.post("/api/orders", { hold_id: holdId });
    expect(order.status).toBe(410);
    expect(order.body.code).toBe("hold_expired");
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("a pending order past the payment timeout is cancelled and its units return", async () => {
    const productId = await createProduct(api, 5);
    const orderId = await createOrder(api, await createHold(api, productId, 3));
    expect((await api.get(`/api/products/${productId}`)).body.stock_available).toBe(2);
    const order = await until(
      () => api.get(`/api/orders/${orderId}`),
      (r) => r.body.status === "cancelled",
      { tries: 80, everyMs: 100 },
    );
    expect(order.body.status).toBe("cancelled");
    expect((await api.get(`/api/products/${productId}`)).body).toMatchObject({
      stock_available: 5,
      available: 5,
    });
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});

describe("expiry before the sweeper runs", () => {
  const { ctx, api } = useTestApp({ HOLD_TTL_SECONDS: "1" });

  test("a hold request at a sold-out product succeeds as soon as another hold has expired", async () => {
    const productId = await createProduct(api, 3);
    const first = await createHold(api, productId, 3);
    const refused = await api.post("/api/holds", { product_id: productId, qty: 2 });
    expect(refused.status).toBe(409);
    await Bun.sleep(1100);
    expect((await api.get(`/api/holds/${first}`)).body.status).toBe("expired");
    const granted = await api.post("/api/holds", { product_id: productId, qty: 2 });
    expect(granted.status).toBe(201);
    const hold = await storedHold(ctx.sql, first);
    expect(hold?.status).toBe("expired");
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("releasing an expired hold changes nothing and reads expired", async () => {
    const productId = await createProduct(api, 3);
    const holdId = await createHold(api, productId, 1);
    await Bun.sleep(1100);
    const released = await api.delete(`/api/holds/${holdId}`);
    expect(released.status).toBe(200);
    expect(released.body.status).toBe("expired");
    expect((await api.get(`/api/products/${productId}`)).body.available).toBe(3);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });
});
