import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { createMiddleware } from "hono/factory";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { AppError, serviceUnavailable } from "../errors";
import type { Logger } from "../lib/logger";
import type { Metrics } from "../lib/metrics";
import { problemResponse } from "./problem";

const JSON_MEDIA_TYPE = /^application\/(?:[\w.-]+\+)?json\s*(?:;.*)?$/i;

/** Refuses non-JSON media types (415) and unparseable bodies (400) before validation runs. */
export const jsonBody = createMiddleware(async (c, next) => {
  if (!JSON_MEDIA_TYPE.test(c.req.header("content-type") ?? "")) {
    throw new AppError("unsupported_media_type", "Send the request body as application/json.");
  }
  try {
    // Parsed once here; Hono caches the result for the validator that follows.
    await c.req.json();
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

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
  }
}

const VALID_REQUEST_ID = /^[\w.:=-]{1,200}$/;
const bootId = randomUUID().slice(0, 8);
let sequence = 0;

/**
 * Everything every request needs, in one middleware because each extra layer costs as much as
 * the work itself on the cached read path: a request id (echoing a valid incoming one), a
 * deadline past which the client gets a 503 instead of waiting on a database that does not
 * answer, and one metric sample and log line labelled by route pattern, not raw path.
 */
export function requestLifecycle(logger: Logger, metrics: Metrics, deadlineMs: number) {
  // Label lookups cost as much as the cached read itself, so each series is bound once.
  const series = new Map<
    string,
    { count: { inc: () => void }; duration: { observe: (s: number) => void } }
  >();
  const expired = serviceUnavailable(
    `The request did not finish within ${deadlineMs} ms; retry shortly.`,
  );
  return createMiddleware(async (c, next) => {
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const requestId =
      incoming !== undefined && VALID_REQUEST_ID.test(incoming)
        ? incoming
        : `${bootId}-${(++sequence).toString(36)}`;
    c.set("requestId", requestId);

    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), deadlineMs);
    });
    const outcome = await Promise.race([next(), deadline]);
    clearTimeout(timer);
    if (outcome === "expired") c.res = problemResponse(c, expired);
    c.res.headers.set("x-request-id", requestId);

    const seconds = (performance.now() - started) / 1000;
    const route = c.req.matchedRoutes.findLast((r) => r.method !== "ALL")?.path ?? "unmatched";
    const status = String(c.res.status);
    const key = `${c.req.method} ${route} ${status}`;
    let bound = series.get(key);
    if (!bound) {
      bound = {
        count: metrics.httpRequests.labels(c.req.method, route, status),
        duration: metrics.httpDuration.labels(c.req.method, route, status),
      };
      series.set(key, bound);
    }
    bound.count.inc();
    bound.duration.observe(seconds);
    if (logger.isLevelEnabled("info")) {
      logger.info(
        { requestId, method: c.req.method, route, status, durationMs: Math.round(seconds * 1000) },
        "request",
      );
    }
  });
}
