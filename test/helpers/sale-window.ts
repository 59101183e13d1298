import { expect } from "bun:test";
import { admin, type Client } from "./fixtures";

/** A product on sale within `window` (either end may be absent). */
export async function createWindowed(
  api: Client,
  window: { sale_starts_at?: string | null; sale_ends_at?: string | null },
  stock = 10,
): Promise<number> {
  const created = await api.post(
    "/api/admin/products",
    { name: "Timed sneaker", price_cents: 100, stock, ...window },
    admin,
  );
  expect(created.status).toBe(201);
  return created.body.id as number;
}
