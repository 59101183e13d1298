import { Hono } from "hono";
import type { Deps } from "../../deps";
import type { CachedProduct } from "../../lib/product-cache";
import { createHold, getHold, HOLDS_SCOPE, releaseHold } from "../../services/holds";
import { createOrder, getOrder, ORDERS_SCOPE } from "../../services/orders";
import { loadProduct, peekProduct } from "../../services/products";
import { deadlineOf } from "../lifecycle";
import { jsonBody } from "../middleware";
import { idempotencyOf, sendOutcome } from "../respond";
import { IdempotencyHeaders, IdParams, type RequestSchemas } from "../schemas";
import { parseNow, validate } from "../validate";

const JSON_TYPE = { "content-type": "application/json" };

export function shopRoutes(deps: Deps, schemas: RequestSchemas) {
  return (
    new Hono()
      // The hottest read of a sale: a cache hit answers synchronously, keeping the fast path.
      .get("/products/:id", (c) => {
        const { id } = parseNow("param", IdParams, c.req.param());
        const send = (product: CachedProduct): Response => c.body(product.body, 200, JSON_TYPE);
        const cached = peekProduct(deps, id);
        if (cached) return send(cached);
        return loadProduct(deps, id).then<Response>(send);
      })
      .post(
        "/holds",
        validate("header", IdempotencyHeaders),
        jsonBody,
        validate("json", schemas.CreateHoldInput),
        async (c) => {
          const input = c.req.valid("json");
          const key = idempotencyOf(c.req.valid("header")["idempotency-key"], HOLDS_SCOPE, input);
          return sendOutcome(c, await createHold(deps, input, deadlineOf(c), key), 201);
        },
      )
      .get("/holds/:id", validate("param", IdParams), async (c) => {
        return c.json(await getHold(deps, c.req.valid("param").id, deadlineOf(c)));
      })
      .delete("/holds/:id", validate("param", IdParams), async (c) => {
        return c.json(await releaseHold(deps, c.req.valid("param").id, deadlineOf(c)));
      })
      .post(
        "/orders",
        validate("header", IdempotencyHeaders),
        jsonBody,
        validate("json", schemas.CreateOrderInput),
        async (c) => {
          const input = c.req.valid("json");
          const key = idempotencyOf(c.req.valid("header")["idempotency-key"], ORDERS_SCOPE, input);
          return sendOutcome(c, await createOrder(deps, input, deadlineOf(c), key), 201);
        },
      )
      .get("/orders/:id", validate("param", IdParams), async (c) => {
        return c.json(await getOrder(deps, c.req.valid("param").id, deadlineOf(c)));
      })
  );
}
