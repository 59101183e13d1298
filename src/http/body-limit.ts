import type { Hono } from "hono";
import { AppError } from "../errors";
import { problemResponse } from "./problem";

/** The largest request body the API reads; the OpenAPI document's 413 says the same. */
export const MAX_BODY_BYTES = 16 * 1024;

/**
 * Refuses request bodies over `maxBytes` with 413 `payload_too_large` before any route runs.
 * It wraps the app's fetch rather than sitting in it as middleware: every middleware a route
 * matches adds a layer of Hono's composition to each request, and on the hold route that cost
 * more than the check itself. A body with `Content-Length` is judged by the header alone; any
 * other (chunked) is read up to the bound and handed on as a new request.
 */
export function withBodyLimit<E extends object>(app: Hono<E>, maxBytes: number): void {
  const dispatch = app.fetch;
  const tooLarge = new AppError(
    "payload_too_large",
    `The request body is larger than ${maxBytes / 1024} KiB.`,
  );
  app.fetch = (request, env, executionCtx) => {
    // A GET's body is never read; the hottest read of a sale pays for no check.
    if (request.method === "GET" || request.method === "HEAD") {
      return dispatch(request, env, executionCtx);
    }
    // Bun and Node both refuse a request with Content-Length and Transfer-Encoding (400) before
    // it gets here, so a Content-Length is the body's real size.
    const length = request.headers.get("content-length");
    if (length !== null) {
      if (Number.parseInt(length, 10) > maxBytes) return problemResponse(tooLarge);
      return dispatch(request, env, executionCtx);
    }
    // Looked at only here: reading `body` makes Bun build a stream, which slows `json()`.
    const { body } = request;
    if (body === null) return dispatch(request, env, executionCtx);
    return readUpTo(request, body, maxBytes).then((bounded) =>
      bounded === undefined ? problemResponse(tooLarge) : dispatch(bounded, env, executionCtx),
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
  return new Request(request, { body: Buffer.concat(chunks, size) });
}
