import { describe, expect, test } from "bun:test";
import { useServedApp } from "./helpers/apps";
import { expectProblem } from "./helpers/contract";
import { admin, createHold, createOrder, createProduct } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { invariantViolations } from "./helpers/invariants";

// PATCH price_cents and POST /api/admin/products/:id/stock-corrections: a new price for orders
// from then on, and a miscount corrected either way, never below the units held.

const { ctx, api } = useServedApp();

const correct = (productId: number, body: unknown) =>
  api.post(`/api/admin/products/${productId}/stock-corrections`, body, admin);

/** The product's stock columns are exactly these, as the database holds them. */
async function expectStock(
  productId: number,
  stock: { stock_available: number; stock_reserved: number; stock_total: number },
) {
  const [row] = await rows(
    ctx.sql,
    "SELECT stock_available, stock_reserved, stock_total FROM products WHERE id = ?",
    [productId],
  );
  expect(row).toEqual(stock);
}

describe("price", () => {
  test("a price change applies to orders made after it; the order made before keeps its price", async () => {
    const productId = await createProduct(api, 10, 1000);
    const before = await createOrder(api, await createHold(api, productId, 2));
    const holdBetween = await createHold(api, productId, 1);
    const patched = await api.patch(
      `/api/admin/products/${productId}`,
      { price_cents: 1500 },
      admin,
    );
    expect(patched.status).toBe(200);
    expect(patched.body.price_cents).toBe(1500);
    expect((await api.get(`/api/products/${productId}`)).body.price_cents).toBe(1500);
    const after = await createOrder(api, holdBetween);
    const first = await api.get(`/api/orders/${before}`);
    const second = await api.get(`/api/orders/${after}`);
    expect([first.body.unit_price_cents, first.body.total_cents]).toEqual([1000, 2000]);
    expect([second.body.unit_price_cents, second.body.total_cents]).toEqual([1500, 1500]);
    expect(await invariantViolations(ctx.sql)).toEqual([]);
  });

  test("0, a fraction or text is a 422 and changes nothing", async () => {
    const productId = await createProduct(api, 10, 1000);
    for (const price of [0, 12.5, "1500", -1, null]) {
      const refused = await api.patch(
        `/api/admin/products/${productId}`,
        { price_cents: price },
        admin,
      );
      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe("validation_failed");
    }
    expect((await api.get(`/api/products/${productId}`)).body.price_cents).toBe(1000);
  });
});

describe("stock corrections", () => {
  test("up and down move stock_available and the units the product ever received (invariant 3)", async () => {
    const productId = await createProduct(api, 10);
    await createOrder(api, await createHold(api, productId, 3));
    const up = await correct(productId, { delta: 5, note: "a box found in the back" });
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ id: productId, stock_available: 12, available: 12 });
    const down = await correct(productId, { delta: -4 });
    expect(down.status).toBe(200);
    expect(down.body).toMatchObject({ stock_available: 8, available: 8 });
    await expectStock(productId, { stock_available: 8, stock_reserved: 0, stock_total: 11 });
    // Created 10, corrected +5 and -4: 11 units, 8 on sale and 3 ordered.
    expect(await invariantViolations(ctx.sql, new Map([[productId, 11]]))).toEqual([]);
  });

  test("down to exactly the units in active holds is allowed; one past it is 409 stock_in_use with reserved, nothing changed", async () => {
    const productId = await createProduct(api, 10);
    await createHold(api, productId, 4);
    await createHold(api, productId, 2);
    const past = await correct(productId, { delta: -5 });
    expectProblem(past, 409, {
      title: "Stock in use",
      code: "stock_in_use",
      detail: `Product ${productId} has 10 units, 6 of them in active holds: it can lose at most 4.`,
      reserved: 6,
    });
    await expectStock(productId, { stock_available: 10, stock_reserved: 6, stock_total: 10 });
    const exact = await correct(productId, { delta: -4 });
    expect(exact.status).toBe(200);
    expect(exact.body).toMatchObject({ stock_available: 6, stock_reserved: 6, available: 0 });
    const onePast = await correct(productId, { delta: -1 });
    expect(onePast.status).toBe(409);
    expect(onePast.body.reserved).toBe(6);
    await expectStock(productId, { stock_available: 6, stock_reserved: 6, stock_total: 6 });
    expect(await invariantViolations(ctx.sql, new Map([[productId, 6]]))).toEqual([]);
  });

  test("corrections racing holds never leave fewer units than the holds have", async () => {
    const productId = await createProduct(api, 20);
    const results = await Promise.all([
      ...Array.from({ length: 10 }, () =>
        api.post("/api/holds", { product_id: productId, qty: 1 }),
      ),
      ...Array.from({ length: 10 }, () => correct(productId, { delta: -1 })),
    ]);
    const statuses = results.map((r) => r.status);
    expect(statuses.every((s) => s === 200 || s === 201 || s === 409)).toBe(true);
    const corrected = results.slice(10).filter((r) => r.status === 200).length;
    expect(await invariantViolations(ctx.sql, new Map([[productId, 20 - corrected]]))).toEqual([]);
  });

  test("0, a fraction, text, an unknown field or a product that does not exist: refused, nothing changed", async () => {
    const productId = await createProduct(api, 10);
    for (const body of [{ delta: 0 }, { delta: 1.5 }, { delta: "5" }, { delta: 1, extra: 1 }, {}]) {
      const refused = await correct(productId, body);
      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe("validation_failed");
    }
    const missing = await correct(999_999, { delta: 1 });
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("product_not_found");
    await expectStock(productId, { stock_available: 10, stock_reserved: 0, stock_total: 10 });
  });

  test("without the admin token: 401", async () => {
    const productId = await createProduct(api, 10);
    const refused = await api.post(`/api/admin/products/${productId}/stock-corrections`, {
      delta: 1,
    });
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe("unauthorized");
  });
});
