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

/** Stripe's tolerance, as the contract says: a signature older than five minutes is refused. */
const STRIPE_TOLERANCE_SECONDS = 300;

/**
 * Stripe's signature (`Stripe-Signature`, STRIPE_WEBHOOK_SECRET) over the raw body, checked
 * with Stripe's own library before anything else reads the body; without a secret every call
 * is refused. The async variant: under Bun the synchronous one throws (no synchronous
 * SubtleCrypto). The library is loaded on the first call, not at start-up: it took 76 ms and
 * 10 MiB, which a process that never hears from Stripe should not pay.
 */
export function stripeSignature(secret: string | undefined) {
  let webhooks: Promise<typeof import("stripe").default.webhooks> | undefined;
  return createMiddleware(async (c, next) => {
    if (secret === undefined) {
      throw new AppError(
        "invalid_signature",
        "No STRIPE_WEBHOOK_SECRET is configured, so every Stripe webhook is refused.",
      );
    }
    webhooks ??= import("stripe").then((stripe) => stripe.default.webhooks);
    const verifier = await webhooks;
    try {
      const body = await c.req.text();
      const header = c.req.header("stripe-signature") ?? "";
      await verifier.constructEventAsync(body, header, secret, STRIPE_TOLERANCE_SECONDS);
    } catch (err) {
      // A body that is signed but not JSON is the next layer's to judge (a 400).
      if (err instanceof SyntaxError) return next();
      if ((err as { type?: unknown }).type !== "StripeSignatureVerificationError") throw err;
      const reason = (err as Error).message.split("\n")[0];
      throw new AppError("invalid_signature", `The Stripe signature is not valid: ${reason}`);
    }
    await next();
  });
}
