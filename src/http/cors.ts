import { pathOf } from "./path";

/** The shopper API and the product reads: what a browser shop calls. */
const CORS_PATH = /^\/api\/(?:holds|orders|products)(?:\/|$)/;
const ALLOW_METHODS = "GET, POST, DELETE";
const ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key";
const EXPOSE_HEADERS = "X-Request-Id, Retry-After, ETag, Idempotent-Replayed";
/** Browsers cache a preflight's answer this long (Chrome caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = "600";

/** Browser access for the origins in CORS_ORIGINS, applied by the request lifecycle. */
export type Cors = {
  /** The 204 answer to a listed origin's preflight on a CORS path; undefined otherwise. */
  preflight(request: Request): Response | undefined;
  /** Adds the CORS headers a request's answer needs (none but `Vary` for another origin). */
  decorate(request: Request, response: Response): void;
};

/**
 * CORS on the shopper API and product reads for `origins`: a listed origin's preflight is a
 * 204, its requests get `Access-Control-Allow-Origin` and the exposed headers, and any other
 * origin gets no CORS header (its preflight falls through to a 404: no such route). Every
 * answer on those paths says `Vary: Origin`, so a shared cache never hands one origin's answer
 * to another. Applied by the lifecycle around the app rather than as Hono's `cors` middleware
 * (docs/hot-path.md, rule 2), as the lifecycle's own answers (a deadline's 503) need the headers
 * too. Undefined, and so free, when no origin is listed.
 */
export function createCors(origins: readonly string[]): Cors | undefined {
  if (origins.length === 0) return undefined;
  const listed = new Set(origins);
  const allowed = (request: Request): string | undefined => {
    const origin = request.headers.get("origin");
    return origin !== null && listed.has(origin) ? origin : undefined;
  };
  return {
    preflight(request) {
      if (request.method !== "OPTIONS" || !CORS_PATH.test(pathOf(request.url))) return undefined;
      if (allowed(request) === undefined) return undefined;
      return new Response(null, {
        status: 204,
        headers: {
          "access-control-allow-methods": ALLOW_METHODS,
          "access-control-allow-headers": ALLOW_HEADERS,
          "access-control-max-age": PREFLIGHT_MAX_AGE_SECONDS,
        },
      });
    },
    decorate(request, response) {
      if (!CORS_PATH.test(pathOf(request.url))) return;
      const { headers } = response;
      headers.append("vary", "Origin");
      const origin = allowed(request);
      if (origin === undefined) return;
      headers.set("access-control-allow-origin", origin);
      headers.set("access-control-expose-headers", EXPOSE_HEADERS);
    },
  };
}
