import { Hono } from "hono";
import type { Deps } from "../../deps";
import { createHold, getHold, HOLDS_SCOPE, releaseHold } from "../../services/holds";
import { createOrder, getOrder, ORDERS_SCOPE } from "../../services/orders";
import { getProduct } from "../../services/products";
import { jsonBody } from "../middleware";
import { idempotencyOf, sendOutcome } from "../respond";
import { IdempotencyHeaders, IdParams, type RequestSchemas } from "../schemas";
import { validate } from "../validate";

export function shopRoutes(deps: Deps, schemas: RequestSchemas) {
  return new Hono()
    .get("/products/:id", validate("param", IdParams), async (c) => {
      const product = await getProduct(deps, c.req.valid("param").id);
      return c.body(product.body, 200, { "content-type": "application/json" });
    })
    .post(
      "/holds",
      validate("header", IdempotencyHeaders),
      jsonBody,
      validate("json", schemas.CreateHoldInput),
      async (c) => {
        const input = c.req.valid("json");
        const key = idempotencyOf(c.req.valid("header")["idempotency-key"], HOLDS_SCOPE, input);
        return sendOutcome(c, await createHold(deps, input, key), 201);
      },
    )
    .get("/holds/:id", validate("param", IdParams), async (c) => {
      return c.json(await getHold(deps, c.req.valid("param").id));
    })
    .delete("/holds/:id", validate("param", IdParams), async (c) => {
      return c.json(await releaseHold(deps, c.req.valid("param").id));
    })
    .post(
      "/orders",
      validate("header", IdempotencyHeaders),
      jsonBody,
      validate("json", schemas.CreateOrderInput),
      async (c) => {
        const input = c.req.valid("json");
        const key = idempotencyOf(c.req.valid("header")["idempotency-key"], ORDERS_SCOPE, input);
        return sendOutcome(c, await createOrder(deps, input, key), 201);
      },
    )
    .get("/orders/:id", validate("param", IdParams), async (c) => {
      return c.json(await getOrder(deps, c.req.valid("param").id));
    });
}
