import { type Context, Hono } from "hono";
import type { Deps } from "../../deps-type";
import { AppError } from "../../errors";
import { createHold, getHold, HOLDS_SCOPE, releaseHold } from "../../services/holds";
import { createOrder, getOrder, ORDERS_SCOPE } from "../../services/orders";
import { loadProduct, peekProduct, watchProduct } from "../../services/products";
import type { CachedProduct } from "../../state/product-cache";
import { deadlineOf } from "../bindings";
import { type BuyerVariables, buyerAuth, buyerOf } from "../middleware";
import { problemResponse } from "../problem";
import { productReader } from "../product-read";
import { rateLimited } from "../rate-limit";
import { idempotencyOf, sendOutcome } from "../respond";
import { IdParams, quickHoldInput, type RequestSchemas } from "../schemas";
import { keyedJsonRoute, parseId, validate } from "../validate";

type ShopContext = Context<{ Variables: BuyerVariables }>;

export function shopRoutes(deps: Deps, schemas: RequestSchemas) {
  const routes = new Hono<{ Variables: BuyerVariables }>();
  const readProduct = productReader(deps.config.PRODUCT_CACHE_TTL_MS, deps.clock);
  // Each hold or order write takes a token from its client's bucket, where a rate is set.
  const limited = rateLimited(deps);
  // Every shopper call but the product reads names its buyer where buyer tokens are
  // configured; checked before validation, so a stranger learns nothing.
  if (deps.buyers.required) {
    const buyer = buyerAuth(deps.buyers);
    for (const path of ["/holds", "/holds/*", "/orders", "/orders/*"]) routes.use(path, buyer);
  }
  return (
    routes
      // The hottest read of a sale: a cache hit answers synchronously, keeping the fast path.
      .get("/products/:id", (c) => {
        const id = parseId(c.req.param("id"));
        const send = (product: CachedProduct): Response => readProduct(c, product);
        const cached = peekProduct(deps, id);
        if (cached) return send(cached);
        return loadProduct(deps, id).then<Response>(send);
      })
      .get("/products/:id/events", validate("param", IdParams), async (c) => {
        const stream = await watchProduct(deps, c.req.valid("param").id);
        return c.body(stream, 200, {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache",
          // Tells nginx-like proxies not to buffer the stream.
          "x-accel-buffering": "no",
        });
      })
      .post(
        "/holds",
        limited(
          keyedJsonRoute(
            schemas.CreateHoldInput,
            (c: ShopContext, input, key) => {
              const idem = idempotencyOf(key, HOLDS_SCOPE, input);
              const send = (held: Awaited<ReturnType<typeof createHold>>): Response =>
                held instanceof AppError ? problemResponse(held, c) : sendOutcome(c, held, 201);
              const held = createHold(deps, input, buyerOf(c), deadlineOf(c), idem);
              return held instanceof AppError ? send(held) : held.then(send);
            },
            quickHoldInput(deps.config),
          ),
        ),
      )
      .get("/holds/:id", validate("param", IdParams), async (c) => {
        return c.json(await getHold(deps, c.req.valid("param").id, buyerOf(c), deadlineOf(c)));
      })
      .delete("/holds/:id", limited(validate("param", IdParams)), async (c) => {
        const { id } = c.req.valid("param");
        return c.json(await releaseHold(deps, id, buyerOf(c), deadlineOf(c)));
      })
      .post(
        "/orders",
        limited(
          keyedJsonRoute(schemas.CreateOrderInput, async (c: ShopContext, input, key) => {
            const idem = idempotencyOf(key, ORDERS_SCOPE, input);
            const order = await createOrder(deps, input, buyerOf(c), deadlineOf(c), idem);
            return sendOutcome(c, order, 201);
          }),
        ),
      )
      .get("/orders/:id", validate("param", IdParams), async (c) => {
        return c.json(await getOrder(deps, c.req.valid("param").id, buyerOf(c), deadlineOf(c)));
      })
  );
}
