import { createMiddleware } from "hono/factory";
import { AppError } from "../../errors";
import { signedText } from "../validate";

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
      const body = await signedText(c);
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
