import { createHash, timingSafeEqual } from "node:crypto";
import { createMiddleware } from "hono/factory";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { AppError, serviceUnavailable } from "../errors";
import type { Logger } from "../lib/logger";
import type { Metrics } from "../lib/metrics";

const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;.*)?$/i;

/** Refuses non-JSON media types (415) and unparseable bodies (400) before validation runs. */
export const jsonBody = createMiddleware(async (c, next) => {
  if (!JSON_MEDIA_TYPE.test(c.req.header("content-type") ?? "")) {
    throw new AppError("unsupported_media_type", "Send the request body as application/json.");
  }
  try {
    JSON.parse(await c.req.text());
  } catch {
    throw new AppError("malformed_json", "The request body is not valid JSON.");
  }
  await next();
});

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

/** Standard Webhooks verification over the raw body; skipped when no secret is configured. */
export function webhookSignature(secret: string | undefined) {
  const verifier = secret === undefined ? undefined : new Webhook(secret);
  return createMiddleware(async (c, next) => {
    if (verifier) {
      const headers = {
        "webhook-id": c.req.header("webhook-id") ?? "",
        "webhook-timestamp": c.req.header("webhook-timestamp") ?? "",
        "webhook-signature": c.req.header("webhook-signature") ?? "",
      };
      try {
        verifier.verify(await c.req.text(), headers);
      } catch (err) {
        if (!(err instanceof WebhookVerificationError)) throw err;
        throw new AppError(
          "invalid_signature",
          `The webhook signature is not valid: ${err.message}.`,
        );
      }
    }
    await next();
  });
}

/**
 * Bounds every request: past the deadline the client gets a 503 instead of waiting on a
 * database that does not answer. The work itself ends on its own lock and connect timeouts.
 */
export function deadline(ms: number) {
  return createMiddleware(async (_c, next) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(serviceUnavailable(`The request did not finish within ${ms} ms; retry shortly.`)),
        ms,
      );
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  });
}

/** One log line and one metric sample per request, labelled by route pattern, not raw path. */
export function observe(logger: Logger, metrics: Metrics) {
  return createMiddleware(async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = c.req.matchedRoutes.findLast((r) => r.method !== "ALL")?.path ?? "unmatched";
    const labels = { method: c.req.method, route, status: String(c.res.status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    logger.info(
      { requestId: c.get("requestId"), ...labels, durationMs: Math.round(seconds * 1000) },
      "request",
    );
  });
}
