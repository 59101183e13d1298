import type { Context } from "hono";
import type { Deps } from "../../deps-type";
import { AppError } from "../../errors";
import { listBuyerHolds, listBuyerOrders } from "../../services/buyer-lists";
import { createHold, getHold, HOLDS_SCOPE, releaseHold } from "../../services/holds";
import { createOrder, getOrder, ORDERS_SCOPE } from "../../services/orders";
import { loadProduct, peekProduct, watchProduct } from "../../services/products";
import { getTicket, joinQueue, peekTicket, type TicketAnswer } from "../../services/waiting-room";
import type { CachedProduct } from "../../state/product-cache";
import { deadlineOf, stampedResponse } from "../bindings";
import { buyerAuth, buyerOf, identified } from "../middleware/buyer";
import { productReader } from "../product-read";
import { rateLimited } from "../rate-limit";
import { idempotencyOf, sendAnswer, sendOutcome } from "../respond";
import { type AppEnv, type Router, validating } from "../route";
import { quickHoldInput, type RequestSchemas } from "../schemas";
import { keyedJsonRoute, parseId } from "../validate";
import type { shopRoutes } from "./shop.routes";

type ShopContext = Context<AppEnv>;

export function serveShop(
  router: Router,
  routes: ReturnType<typeof shopRoutes>,
  deps: Deps,
  schemas: RequestSchemas,
): void {
  const readProduct = productReader(deps.config.PRODUCT_CACHE_TTL_MS, deps.clock);
  // Each hold or order write takes a token from its client's bucket, where a rate is set.
  const limited = rateLimited(deps);
  // Every shopper call but the product reads names its buyer where buyer tokens are
  // configured; checked before validation, so a stranger learns nothing. A hold, a join and a
  // ticket read identify it in their one handler (`identified`), the rest in a middleware.
  if (deps.buyers.required) {
    const buyer = buyerAuth(deps.buyers);
    // Not "/api/holds/*": Hono matches that on "/api/holds" too, the hold's own route.
    router.app.on("GET", "/api/holds", buyer);
    router.app.on(["GET", "POST"], "/api/orders", buyer);
    router.app.use("/api/holds/:id", buyer);
    router.app.use("/api/orders/:id", buyer);
  }
  const identify = (handler: (c: ShopContext) => Response | Promise<Response>) =>
    identified(deps.buyers, handler);

  // The hottest read of a sale: a cache hit answers synchronously, keeping the fast path.
  router.handleSelfValidating(routes.getProduct, (c) => {
    const id = parseId(c.req.param("id") ?? "");
    const send = (product: CachedProduct): Response => readProduct(c, product);
    const cached = peekProduct(deps, id);
    if (cached) return send(cached);
    return loadProduct(deps, id).then<Response>(send);
  });

  router.handle(routes.streamProductStock, async (c, { param }) => {
    const stream = await watchProduct(deps, param.id);
    return c.body(stream, 200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      // Tells nginx-like proxies not to buffer the stream.
      "x-accel-buffering": "no",
    });
  });

  router.handleSelfValidating(
    routes.joinQueue,
    identify(async (c) => {
      const joined = await joinQueue(deps, {
        productId: parseId(c.req.param("id") ?? ""),
        buyer: buyerOf(c),
        deadline: deadlineOf(c),
      });
      if (joined instanceof AppError) throw joined;
      // Built with its request id among its headers (docs/hot-path.md, rule 4).
      return stampedResponse(c, JSON.stringify(joined.view), joined.created ? 201 : 200, {
        "content-type": "application/json",
        ...retryAfter(joined.retryAfter),
      });
    }),
  );

  // A waiting buyer's repeated read: from this process's copy, answered synchronously with a
  // body serialised once while it shows the same (docs/hot-path.md, rules 2 and 4).
  router.handleSelfValidating(
    routes.getTicket,
    identify((c) => {
      const id = parseId(c.req.param("id") ?? "");
      const send = (ticket: TicketAnswer): Response =>
        stampedResponse(c, ticket.body, 200, {
          "content-type": "application/json",
          ...retryAfter(ticket.retryAfter),
        });
      const known = peekTicket(deps, id, buyerOf(c));
      if (known) return send(known);
      return getTicket(deps, id, buyerOf(c), deadlineOf(c)).then<Response>(send);
    }),
  );

  // The hot path: one handler that checks the key, reads the body and validates it (the
  // schema's verdict through a quick check), with no layer added by the declaration.
  router.handleSelfValidating(
    routes.createHold,
    identify(
      limited(
        keyedJsonRoute(
          schemas.CreateHoldInput,
          (c: ShopContext, input, key) => {
            const idem = idempotencyOf(key, HOLDS_SCOPE, input);
            return sendAnswer(c, createHold(deps, input, buyerOf(c), deadlineOf(c), idem), 201);
          },
          quickHoldInput(deps.config),
        ),
      ),
    ),
  );

  router.handle(routes.getHold, async (c, { param }) => {
    return c.json(await getHold(deps, param.id, buyerOf(c), deadlineOf(c)));
  });

  router.handleSelfValidating(
    routes.releaseHold,
    limited(
      validating(routes.releaseHold, async (c: ShopContext, { param }) => {
        return c.json(await releaseHold(deps, param.id, buyerOf(c), deadlineOf(c)));
      }),
    ),
  );

  router.handleSelfValidating(
    routes.createOrder,
    limited(
      keyedJsonRoute(schemas.CreateOrderInput, async (c: ShopContext, input, key) => {
        const idem = idempotencyOf(key, ORDERS_SCOPE, input);
        const order = await createOrder(deps, input, buyerOf(c), deadlineOf(c), idem);
        return sendOutcome(c, order, 201);
      }),
    ),
  );

  // Anonymous shoppers have no "own" to list: refused before the query is even read.
  const noOwn = new AppError(
    "unauthorized",
    "Listing one's own orders and holds needs buyer tokens, and none are configured.",
  );
  const ownerOf = (c: ShopContext): string => {
    const buyer = buyerOf(c);
    if (buyer === null) throw noOwn;
    return buyer;
  };
  const anonymous = deps.buyers.required ? [] : [() => Promise.reject(noOwn)];
  router.handle(
    routes.listMyOrders,
    async (c, { query }) => c.json(await listBuyerOrders(deps, ownerOf(c), query, deadlineOf(c))),
    ...anonymous,
  );
  router.handle(
    routes.listMyHolds,
    async (c, { query }) => c.json(await listBuyerHolds(deps, ownerOf(c), query, deadlineOf(c))),
    ...anonymous,
  );

  router.handle(routes.getOrder, async (c, { param }) => {
    return c.json(await getOrder(deps, param.id, buyerOf(c), deadlineOf(c)));
  });
}

/** A waiting ticket's estimate of the wait, as the header says it. */
function retryAfter(seconds: number | undefined): Record<string, string> {
  return seconds === undefined ? {} : { "retry-after": String(seconds) };
}
