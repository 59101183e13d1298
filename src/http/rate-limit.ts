import type { Context, Next } from "hono";
import type { Deps } from "../deps-type";
import { AppError } from "../errors";
import { clientAddress } from "./client-address";
import { type BuyerVariables, buyerOf } from "./middleware/buyer";
import { problemResponse } from "./problem";

type ShopContext = Context<{ Variables: BuyerVariables }>;

/** Who a request's bucket belongs to: the buyer where tokens name one, else the client's address. */
function clientKey(c: ShopContext, trustProxy: boolean): string {
  const buyer = buyerOf(c);
  if (buyer !== null) return `buyer:${buyer}`;
  return `address:${clientAddress(c, trustProxy) ?? "unknown"}`;
}

/**
 * Wraps a shopper write's handler with the per-client rate limit (SHOPPER_RATE_PER_SECOND):
 * a request finding its bucket empty is a 429 before anything else runs, so nothing changes
 * and no token is taken. With no limit configured the handler is returned as it is: the hold
 * route stays one handler with no layer added, and pays nothing.
 */
export function rateLimited(deps: Pick<Deps, "rateLimiter" | "config">) {
  const { rateLimiter } = deps;
  const trustProxy = deps.config.TRUST_PROXY;
  return <H extends (c: Context, next: Next) => Response | Promise<Response>>(handler: H): H => {
    if (rateLimiter === undefined) return handler;
    const perSecond = rateLimiter.ratePerSecond;
    // A bucket never lacks a whole token for more than a second: Retry-After is always 1.
    const refused = new AppError(
      "too_many_requests",
      `This client sent more than ${perSecond} hold and order requests a second (bursts of ${2 * perSecond}); retry shortly.`,
      {},
      1,
    );
    const checked = (c: Context, next: Next) =>
      rateLimiter.take(clientKey(c, trustProxy))
        ? handler(c, next)
        : Promise.resolve(problemResponse(refused, c));
    return checked as H;
  };
}
