import { describe, expect, test } from "bun:test";
import { HS256 } from "./helpers/buyers";
import { useLimited } from "./helpers/rate-limit";
import { NONE, type ShopperRoute, shopperRoute, shopperRouteSuite } from "./helpers/shopper-routes";

// Every shopper route answers 401, 422 and 429 the same way: one shared suite runs for each,
// and the table is checked against the routes the app declares, so a new one cannot skip it.

// method, path, a body naming nothing that exists (POSTs) or a list's query and what it answers,
// what the validator refuses (a path, or a body for the same path), whether it needs a buyer
// token and whether it is rate-limited.
/** A buyer's own list: a page before an id no one has is empty (200); a limit of 0 is refused. */
const ownList = (path: string) => ({
  query: `?before_id=${NONE}`,
  answers: 200,
  invalid: `${path}?limit=0`,
  buyer: true,
});

const routes: ShopperRoute[] = [
  shopperRoute("GET", "/api/products/{id}", { invalid: "/api/products/abc" }),
  shopperRoute("GET", "/api/products/{id}/events", { invalid: "/api/products/0/events" }),
  shopperRoute("POST", "/api/products/{id}/queue", {
    invalid: "/api/products/abc/queue",
    buyer: true,
  }),
  shopperRoute("GET", "/api/products/{id}/queue", {
    invalid: "/api/products/0/queue",
    buyer: true,
  }),
  shopperRoute("POST", "/api/holds", {
    body: { product_id: NONE, qty: 1 },
    invalid: { product_id: 1, qty: 0 },
    buyer: true,
    limited: true,
  }),
  shopperRoute("GET", "/api/holds", ownList("/api/holds")),
  shopperRoute("GET", "/api/holds/{id}", { invalid: "/api/holds/-1", buyer: true }),
  shopperRoute("DELETE", "/api/holds/{id}", {
    invalid: "/api/holds/1.5",
    buyer: true,
    limited: true,
  }),
  shopperRoute("POST", "/api/orders", {
    body: { hold_id: NONE },
    invalid: { hold_id: "one" },
    buyer: true,
    limited: true,
  }),
  shopperRoute("GET", "/api/orders", ownList("/api/orders")),
  shopperRoute("GET", "/api/orders/{id}", { invalid: "/api/orders/x", buyer: true }),
];

const limited = useLimited({ ...HS256, SHOPPER_RATE_PER_SECOND: "1" }, 1);

for (const route of routes) shopperRouteSuite(route, limited);

describe("the table", () => {
  test("names every shopper route the app declares, with its buyer token and its limit", async () => {
    const doc = (await limited.api.get("/openapi.json")).body as {
      paths: Record<
        string,
        Record<string, { tags?: string[]; security?: object[]; responses: object }>
      >;
    };
    const declared = Object.entries(doc.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, op]) => op.tags?.includes("shop"))
        .map(([method, op]) => ({
          method: method.toUpperCase(),
          path,
          buyer: (op.security ?? []).some((s) => "buyer" in s),
          limited: "429" in op.responses,
        })),
    );
    const table = routes.map(({ method, path, buyer, limited }) => ({
      method: String(method),
      path,
      buyer,
      limited,
    }));
    const byRoute = (a: { method: string; path: string }, b: { method: string; path: string }) =>
      `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`);
    expect(table.sort(byRoute)).toEqual(declared.sort(byRoute));
  });
});
