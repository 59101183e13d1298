import { describe, expect, test } from "bun:test";
import { useTestApp } from "./helpers/apps";
import { admin } from "./helpers/fixtures";
import { rows } from "./helpers/harness";
import { createWindowed } from "./helpers/sale-window";

// The sale window (contract: GET /api/products/:id, POST /api/holds, invariant 6): shown on every
// read, set and moved by the operator, and decided by the database's clock.

const { ctx, api } = useTestApp();

describe("error: windows that cannot be", () => {
  const productCount = async () =>
    Number((await rows<{ n: number }>(ctx.sql, "SELECT COUNT(*) AS n FROM products"))[0]?.n);

  test("422 when the end is not after the start, on create and on PATCH of either side; nothing changes", async () => {
    const before = await productCount();
    for (const ends of ["2030-01-01T00:00:00.000Z", "2029-12-31T23:59:59.999Z"]) {
      const refused = await api.post(
        "/api/admin/products",
        {
          name: "Backwards",
          price_cents: 1,
          stock: 1,
          sale_starts_at: "2030-01-01T00:00:00.000Z",
          sale_ends_at: ends,
        },
        admin,
      );
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({
        code: "validation_failed",
        errors: [{ path: "sale_ends_at", message: "must be after sale_starts_at" }],
      });
    }
    expect(await productCount()).toBe(before);

    const id = await createWindowed(api, {
      sale_starts_at: "2030-01-01T00:00:00.000Z",
      sale_ends_at: "2030-01-02T00:00:00.000Z",
    });
    const version = async () =>
      (
        await rows<{ version: number }>(ctx.sql, "SELECT version FROM products WHERE id = ?", [id])
      )[0]?.version;
    const unchanged = await version();
    for (const change of [
      { sale_starts_at: "2030-01-02T00:00:00.000Z" },
      { sale_ends_at: "2029-12-31T00:00:00.000Z" },
      { name: "Renamed", sale_ends_at: "2030-01-01T00:00:00.000Z" },
    ]) {
      const refused = await api.patch(`/api/admin/products/${id}`, change, admin);
      expect(refused.status).toBe(422);
      expect(refused.body.code).toBe("validation_failed");
    }
    expect(await version()).toBe(unchanged);
    expect((await api.get(`/api/products/${id}`)).body).toMatchObject({
      name: "Timed sneaker",
      sale_starts_at: "2030-01-01T00:00:00.000Z",
      sale_ends_at: "2030-01-02T00:00:00.000Z",
    });
  });
});

describe("hostile: timestamps that are not timestamps", () => {
  test.each([
    ["no zone", "2030-01-01T00:00:00"],
    ["a date only", "2030-01-01"],
    ["a number", 1_893_456_000_000],
    ["before 1970", "1969-12-31T23:59:59Z"],
    ["year 0", "0000-01-01T00:00:00Z"],
    ["garbage", "soon"],
  ])("%s: 422 validation_failed", async (_name, value) => {
    const refused = await api.post(
      "/api/admin/products",
      { name: "Odd", price_cents: 1, stock: 1, sale_starts_at: value },
      admin,
    );
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      code: "validation_failed",
      errors: [{ path: "sale_starts_at" }],
    });
  });
});
