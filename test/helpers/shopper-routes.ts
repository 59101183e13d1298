import { describe, expect, test } from "bun:test";
import { bearer, hs256 } from "./buyers";
import { problem } from "./contract";
import type { Reply } from "./fixtures";
import type { Limited } from "./rate-limit";

/** One shopper route as a client calls it, for the answers every shopper route shares. */
export type ShopperRoute = {
  method: "GET" | "POST" | "DELETE";
  /** As the declarations write it (`/api/holds/{id}`). */
  path: string;
  /** A request of the right shape, naming nothing that exists where it names something. */
  missing: { path: string; body?: unknown };
  /** What that request answers: 404, or 200 for a list. */
  answers: number;
  /** A request the validator refuses. */
  invalid: { path: string; body?: unknown };
  /** Whether it needs a buyer token where buyer tokens are configured. */
  buyer: boolean;
  /** Whether each call takes a token from the client's bucket (SHOPPER_RATE_PER_SECOND). */
  limited: boolean;
};

/** An id no test creates. */
export const NONE = 999_999_999;

/**
 * A row of the table: the missing request fills `{id}` with NONE and answers 404 unless the row
 * says otherwise (a list's query); `invalid` is a path or a body.
 */
export function shopperRoute(
  method: ShopperRoute["method"],
  path: string,
  row: {
    body?: unknown;
    query?: string;
    answers?: number;
    invalid: string | object;
    buyer?: boolean;
    limited?: boolean;
  },
): ShopperRoute {
  const concrete = path.replace("{id}", String(NONE)) + (row.query ?? "");
  return {
    method,
    path,
    missing: { path: concrete, body: row.body },
    answers: row.answers ?? 404,
    invalid: typeof row.invalid === "string" ? { path: row.invalid } : { path, body: row.invalid },
    buyer: row.buyer ?? false,
    limited: row.limited ?? false,
  };
}

let buyers = 0;

/**
 * The answers every shopper route gives the same way (unkey's shared route tests): 401 without
 * a buyer token where one is needed, 422 for what the validator refuses, 429 once a client's
 * bucket is empty where the route is limited. `limited` serves the app with buyer tokens and
 * SHOPPER_RATE_PER_SECOND=1 (a bucket of 2) on a clock that does not move.
 */
export function shopperRouteSuite(route: ShopperRoute, limited: Limited) {
  const send = async (
    request: { path: string; body?: unknown },
    headers: Record<string, string> = {},
  ): Promise<Reply> =>
    route.method === "GET"
      ? limited.api.get(request.path, headers)
      : route.method === "DELETE"
        ? limited.api.raw(request.path, { method: "DELETE", headers }).then(async (r) => ({
            status: r.status,
            body: (await r.json()) as Record<string, unknown>,
            headers: r.headers,
          }))
        : limited.api.post(request.path, request.body, headers);
  // A buyer of their own per check, so that no check spends another's bucket.
  const freshBuyer = async () => bearer(await hs256({ sub: `route-buyer-${++buyers}` }));

  describe(`${route.method} ${route.path}`, () => {
    test(route.buyer ? "401 without a buyer token" : "open without a buyer token", async () => {
      const reply = await send(route.missing);
      if (route.buyer) {
        expect(reply.status).toBe(401);
        expect(reply.body).toEqual(problem("unauthorized", 401));
        expect(reply.headers.get("www-authenticate")).toBe("Bearer");
      } else {
        expect(reply.status).toBe(route.answers);
      }
    });

    test("422 validation_failed for a request the validator refuses", async () => {
      const reply = await send(route.invalid, await freshBuyer());
      expect(reply.status).toBe(422);
      expect(reply.body).toEqual(problem("validation_failed", 422, { errors: expect.any(Array) }));
    });

    test(
      route.limited ? "429 once the client's bucket is empty" : "never rate-limited",
      async () => {
        const as = await freshBuyer();
        const replies: Reply[] = [];
        for (let i = 0; i < 4; i++) replies.push(await send(route.missing, as));
        const statuses = replies.map((r) => r.status);
        const answer = route.answers;
        if (route.limited) {
          expect(statuses).toEqual([answer, answer, 429, 429]);
          expect(replies[2]?.body).toEqual(problem("too_many_requests", 429));
          expect(replies[2]?.headers.get("retry-after")).toBe("1");
        } else {
          expect(statuses).toEqual([answer, answer, answer, answer]);
        }
      },
    );
  });
}
