import type { Hono } from "hono";
import { pathOf } from "./path";
import { payloadTooLarge, problemResponse } from "./problem";

/** The largest request body the API reads; the OpenAPI document's 413 says the same. */
export const MAX_BODY_BYTES = 16 * 1024;
/** Stripe's events are larger than this service's own bodies. */
export const STRIPE_MAX_BODY_BYTES = 256 * 1024;

/**
 * Refuses request bodies over `maxBytes` (or the larger bound `larger` gives a path) with 413
 * `payload_too_large` before any route runs.
 * It wraps the app's fetch rather than sitting in it as middleware (docs/hot-path.md, rule 2).
 * A body with `Content-Length` is judged by the header alone; any
 * other (chunked) is read up to the bound and handed on as a new request. The path is looked
 * at only for a body past `maxBytes`: the hot routes' bodies never are.
 */
export function withBodyLimit<E extends object>(
  app: Hono<E>,
  maxBytes: number,
  larger: Record<string, number> = {},
): void {
  const dispatch = app.fetch;
  const boundOf = (request: Request): number => larger[pathOf(request.url)] ?? maxBytes;
  app.fetch = (request, env, executionCtx) => {
    // A GET's body is never read; the hottest read of a sale pays for no check.
    if (request.method === "GET" || request.method === "HEAD") {
      return dispatch(request, env, executionCtx);
    }
    // Bun and Node both refuse a request with Content-Length and Transfer-Encoding (400) before
    // it gets here, so a Content-Length is the body's real size.
    const length = request.headers.get("content-length");
    if (length !== null) {
      const size = Number.parseInt(length, 10);
      if (size > maxBytes) {
        const bound = boundOf(request);
        if (size > bound) return problemResponse(payloadTooLarge(bound));
      }
      return dispatch(request, env, executionCtx);
    }
    // Looked at only here: reading `body` makes Bun build a stream, which slows `json()`.
    const { body } = request;
    if (body === null) return dispatch(request, env, executionCtx);
    const bound = boundOf(request);
    return readUpTo(request, body, bound).then((bounded) =>
      bounded === undefined
        ? problemResponse(payloadTooLarge(bound))
        : dispatch(bounded, env, executionCtx),
    );
  };
}

/** The request with its body read into memory, or undefined once it passes `maxBytes`. */
async function readUpTo(
  request: Request,
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Request | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  // An empty chunked body is no body, as an empty one with a length is.
  return new Request(request, { body: size === 0 ? null : Buffer.concat(chunks, size) });
}
