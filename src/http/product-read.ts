import type { Context } from "hono";
import type { CachedProduct } from "../state/product-cache";
import { stampedResponse } from "./bindings";

/**
 * The product read's answer, made for caches in front of the service (a CDN taking a refresh
 * storm): `ETag` moves with the product's version, and `max-age` is the cache's TTL but never
 * reaches past the next edge of the sale window, so no cache serves "upcoming" after the opening.
 */
export function productReader(cacheTtlMs: number, clock: () => number) {
  const ttlSeconds = Math.max(1, Math.floor(cacheTtlMs / 1000));
  const ttlHeader = `public, max-age=${ttlSeconds}`;
  const cacheControl = (product: CachedProduct): string => {
    if (product.flipsAt === Number.POSITIVE_INFINITY) return ttlHeader;
    const seconds = Math.floor((product.flipsAt - clock()) / 1000);
    return seconds >= ttlSeconds ? ttlHeader : `public, max-age=${Math.max(0, seconds)}`;
  };
  return (c: Context, product: CachedProduct): Response => {
    const headers = {
      "content-type": "application/json",
      etag: product.etag,
      "cache-control": cacheControl(product),
    };
    const known = c.req.header("if-none-match");
    if (known !== undefined && matches(known, product.etag)) {
      return stampedResponse(c, null, 304, headers);
    }
    return stampedResponse(c, product.body, 200, headers);
  };
}

/** RFC 9110's weak comparison of an If-None-Match list with the current tag. */
function matches(list: string, etag: string): boolean {
  if (list.trim() === "*") return true;
  const opaque = etag.startsWith("W/") ? etag.slice(2) : etag;
  return list.split(",").some((tag) => {
    const trimmed = tag.trim();
    return (trimmed.startsWith("W/") ? trimmed.slice(2) : trimmed) === opaque;
  });
}
