import type { Context } from "hono";
import type { Actor } from "../services/audit";
import { Bindings, requestIdOf } from "./bindings";

/**
 * The client's address: the connection's, or behind a trusted proxy the last X-Forwarded-For
 * entry (the one the proxy itself added; those before it are whatever the client wrote).
 */
export function clientAddress(c: Context, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = c.req.header("x-forwarded-for");
    const last = forwarded?.slice(forwarded.lastIndexOf(",") + 1).trim();
    if (last) return last;
  }
  const bindings = c.env;
  return bindings instanceof Bindings ? bindings.peerAddress : undefined;
}

/** Who asks for an admin change, for its audit entry: the request id its answer carries. */
export function actorOf(c: Context, trustProxy: boolean): Actor {
  return {
    requestId: requestIdOf(c) ?? "",
    clientIp: clientAddress(c, trustProxy)?.slice(0, 64) ?? null,
  };
}
