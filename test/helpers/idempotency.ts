import type { Client } from "./fixtures";

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
