import { createHash, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { AppError } from "../errors";
import type { BuyerId, BuyerVerifier } from "../services/buyers";

/** What the buyer middleware leaves for the handlers: nothing in anonymous mode. */
export type BuyerVariables = { buyer?: BuyerId };

/**
 * The shopper's identity from `Authorization: Bearer <JWT>`; a missing or bad token is a 401
 * before anything else runs, so nothing changes. Registered only where buyer tokens are
 * configured: in anonymous mode every shopper is null and the hold route runs one middleware
 * layer fewer.
 */
export function buyerAuth(verifier: BuyerVerifier) {
  return createMiddleware<{ Variables: BuyerVariables }>(async (c, next) => {
    c.set("buyer", await verifier.verify(c.req.header("authorization")));
    await next();
  });
}

/** The request's buyer, as `buyerAuth` found it; null (anonymous) where it does not run. */
export function buyerOf<E extends { Variables: BuyerVariables }>(c: Context<E>): BuyerId {
  // `c.var` would copy every variable into a new object; `get` is one lookup.
  return (c as unknown as Context<{ Variables: BuyerVariables }>).get("buyer") ?? null;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/** Bearer token check in constant time; with no token configured every admin call is refused. */
export function adminAuth(token: string | undefined) {
  const expected = token === undefined ? undefined : digest(token);
  return createMiddleware(async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer (.+)$/i.exec(header);
    if (!expected || !match?.[1] || !timingSafeEqual(digest(match[1]), expected)) {
      throw new AppError("unauthorized", "This route needs Authorization: Bearer <ADMIN_TOKEN>.");
    }
    await next();
  });
}

/**
 * Standard Webhooks verification over the raw body, before anything else reads it. With no
 * secret every webhook is refused (fail closed: an unsigned one could mark any order paid),
 * unless `allowUnsigned`, the development switch, lets them through unchecked.
 */
export function webhookSignature(secret: string | undefined, allowUnsigned: boolean) {
  const verifier = secret === undefined ? undefined : new Webhook(secret);
  const unconfigured = new AppError(
    "invalid_signature",
    "No WEBHOOK_SECRET is configured, so every webhook is refused.",
  );
  return createMiddleware(async (c, next) => {
    if (verifier) {
      const headers = {
        "webhook-id": c.req.header("webhook-id") ?? "",
        "webhook-timestamp": c.req.header("webhook-timestamp") ?? "",
        "webhook-signature": c.req.header("webhook-signature") ?? "",
      };
      try {
        // The body's JSON is the next layer's to judge (a 400), not the verifier's to throw.
        verifier.verify(await c.req.text(), headers, { jsonParse: false });
      } catch (err) {
        if (!(err instanceof WebhookVerificationError)) throw err;
        throw new AppError(
          "invalid_signature",
          `The webhook signature is not valid: ${err.message}.`,
        );
      }
    } else if (!allowUnsigned) {
      throw unconfigured;
    }
    await next();
  });
}
