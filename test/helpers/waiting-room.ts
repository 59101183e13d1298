import { expect } from "bun:test";
import type mysql from "mysql2/promise";
import { bearer, hs256 } from "./buyers";
import { admin, type Client } from "./fixtures";
import { rows } from "./harness";

/** A product with a waiting room (and whatever else `extra` sets). */
export async function roomProduct(
  api: Client,
  room: { admit_per_second: number; admission_seconds?: number },
  extra: Record<string, unknown> = {},
  stock = 100,
): Promise<number> {
  const created = await api.post(
    "/api/admin/products",
    { name: "Hyped sneaker", price_cents: 100, stock, waiting_room: room, ...extra },
    admin,
  );
  expect(created.status).toBe(201);
  return created.body.id as number;
}

/** Authorization headers for `buyer`. */
export async function as(buyer: string): Promise<Record<string, string>> {
  return bearer(await hs256({ sub: buyer }));
}

export type TicketRow = {
  id: number;
  buyer_id: string;
  position: number | null;
  joined_at: Date;
  admitted_at: Date | null;
  admitted_until: Date | null;
};

/** The product's tickets as stored, in id order. */
export async function tickets(pool: mysql.Pool, productId: number): Promise<TicketRow[]> {
  return rows<TicketRow>(
    pool,
    "SELECT id, CAST(buyer_id AS CHAR) AS buyer_id, position, joined_at, admitted_at, admitted_until FROM queue_tickets WHERE product_id = ? ORDER BY id",
    [productId],
  );
}

/** 1..n, for comparing a product's positions. */
export const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
