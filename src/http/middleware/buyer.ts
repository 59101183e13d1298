import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { BuyerId, BuyerVerifier } from "../../services/buyers";

/** What the buyer middleware leaves for the handlers: nothing in anonymous mode. */
export type BuyerVariables = { buyer?: BuyerId };

/**
 * The shopper's identity from `Authorization: Bearer <JWT>`; a missing or bad token is a 401
 * before anything else runs, so nothing changes. Registered only where buyer tokens are
 * configured: in anonymous mode every shopper is null and the hold route runs one middleware
 * layer fewer. A known or HS256 token adds no asynchronous step (docs/hot-path.md, rule 1).
 */
export function buyerAuth(verifier: BuyerVerifier) {
  return createMiddleware<{ Variables: BuyerVariables }>((c, next) => {
    const buyer = verifier.verify(c.req.header("authorization"));
    if (buyer instanceof Promise) {
      return buyer.then((found) => {
        c.set("buyer", found);
        return next();
      });
    }
    c.set("buyer", buyer);
    return next();
  });
}

/**
 * `handler` with the buyer identified first, in the same layer: the hottest shopper routes (a
 * hold, a join, a ticket read) take no middleware layer for it (docs/hot-path.md, rule 2), and
 * answer a known or HS256 token's request synchronously where the handler does (rule 1).
 */
export function identified<C extends Context>(
  verifier: BuyerVerifier,
  handler: (c: C) => Response | Promise<Response>,
): (c: C) => Response | Promise<Response> {
  if (!verifier.required) return handler;
  const serve = (c: C, buyer: BuyerId) => {
    (c as unknown as Context<{ Variables: BuyerVariables }>).set("buyer", buyer);
    return handler(c);
  };
  return (c) => {
    const buyer = verifier.verify(c.req.header("authorization"));
    return buyer instanceof Promise ? buyer.then((found) => serve(c, found)) : serve(c, buyer);
  };
}

/** The request's buyer, as `buyerAuth` found it; null (anonymous) where it does not run. */
export function buyerOf<E extends { Variables: BuyerVariables }>(c: Context<E>): BuyerId {
  // `c.var` would copy every variable into a new object; `get` is one lookup.
  return (c as unknown as Context<{ Variables: BuyerVariables }>).get("buyer") ?? null;
}
