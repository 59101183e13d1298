import type { Context } from "hono";
import type { CommitGuard } from "../deadline/deadline";
import { RequestDeadline } from "../deadline/request-deadline";

/** What the lifecycle hands to every handler through Hono's `c.env`. */
export type RequestBindings = { requestId: string; deadline: CommitGuard };

export function requestIdOf(c: Context): string | undefined {
  return (c.env as Partial<RequestBindings> | undefined)?.requestId;
}

/** The request's deadline, for the services to bound and guard their database work. */
export function deadlineOf(c: Context): CommitGuard {
  const deadline = (c.env as Partial<RequestBindings> | undefined)?.deadline;
  if (!deadline) throw new Error("no request deadline: the app was served without its lifecycle");
  return deadline;
}

/**
 * A response built with the request id (and `nosniff`, which the lifecycle adds to every
 * answer) among its headers, for the hottest answers (a cached read, a refusal, a granted
 * hold): the lifecycle then leaves it as it is (docs/hot-path.md, rule 4).
 */
export function stampedResponse(
  c: Context,
  body: string | null,
  status: number,
  headers: Record<string, string>,
): Response {
  const bindings = c.env;
  if (!(bindings instanceof Bindings)) return new Response(body, { status, headers });
  const response = new Response(body, {
    status,
    headers: {
      ...headers,
      "x-request-id": bindings.requestId,
      "x-content-type-options": "nosniff",
    },
  });
  bindings.stamped = response;
  return response;
}

/**
 * One request's bindings: its id, the response already stamped with it, the client's address,
 * and its deadline (which it extends, so a request allocates one object for all of them).
 */
export class Bindings extends RequestDeadline implements RequestBindings {
  /** The response that already carries the request id, if a handler built one. */
  stamped: Response | undefined;

  constructor(
    readonly requestId: string,
    started: number,
    deadlineMs: number,
    /** The request as the runtime handed it over, and what the runtime passed beside it. */
    private readonly request?: Request,
    private readonly runtime?: unknown,
  ) {
    super(started, deadlineMs);
  }

  /**
   * The address of the client's connection: Bun's server (the runtime's second argument to
   * `fetch`) knows it, as does the socket @hono/node-server passes; worked out only when asked,
   * as only the rate limit asks.
   */
  get peerAddress(): string | undefined {
    const runtime = this.runtime as
      | {
          requestIP?: (request: Request) => { address: string } | null;
          incoming?: { socket?: { remoteAddress?: string } };
        }
      | undefined;
    if (this.request === undefined || runtime === undefined) return undefined;
    if (typeof runtime.requestIP === "function") return runtime.requestIP(this.request)?.address;
    return runtime.incoming?.socket?.remoteAddress;
  }

  get deadline(): CommitGuard {
    return this;
  }
}
