import { createMiddleware } from "hono/factory";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { AppError } from "../../errors";
import { signedText } from "../validate";

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
        verifier.verify(await signedText(c), headers, { jsonParse: false });
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
