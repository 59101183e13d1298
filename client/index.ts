import { hc } from "hono/client";
import type { Api } from "./api";

export type { ApiSchema } from "./api";

export type ClientOptions = {
  /** A buyer's JWT for the shopper API, or ADMIN_TOKEN for the operator's: sent as a bearer. */
  token?: string;
  /** A fetch to use instead of the global one (tests, retries, a proxy). */
  fetch?: typeof fetch;
};

/**
 * The flash-sale API, typed from its route declarations: every path, its parameters, query,
 * headers and body, and for each status the body it answers (problem documents included).
 *
 *     const api = createClient("https://sale.example.com", { token });
 *     const res = await api.api.holds.$post({ json: { product_id: 1, qty: 2 } });
 *     if (res.status === 201) (await res.json()).expires_at;
 */
export function createClient(baseUrl: string, options: ClientOptions = {}) {
  const headers: Record<string, string> =
    options.token === undefined ? {} : { authorization: `Bearer ${options.token}` };
  return hc<Api>(baseUrl, { headers, ...(options.fetch ? { fetch: options.fetch } : {}) });
}

export type Client = ReturnType<typeof createClient>;
