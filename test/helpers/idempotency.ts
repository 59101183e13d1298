import type mysql from "mysql2/promise";
import type { Client } from "../fixtures";
import { rows } from "./harness";

let n = 0;
export const newKey = () => `key-${++n}-${Math.random().toString(36).slice(2)}`;
export const withKey = (key: string) => ({ "idempotency-key": key });

/** A keyed POST whose answer is kept as text, to compare replays byte for byte. */
export async function postRaw(api: Client, path: string, body: unknown, key: string) {
  const res = await api.raw(path, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

export async function holdsOfProduct(pool: mysql.Pool, productId: number): Promise<number> {
  const [row] = await rows<{ n: number }>(
    pool,
    "SELECT COUNT(*) AS n FROM holds WHERE product_id = ?",
    [productId],
  );
  return Number(row?.n);
}
