import { z } from "@hono/zod-openapi";
import { defineRoute, json, problems } from "../route";

const text = (type: string, example: string) => ({
  content: { [type]: { schema: z.string(), example } },
});

const page = (path: string, operationId: string, summary: string, type: string, example: string) =>
  defineRoute({
    method: "get",
    path,
    operationId,
    tags: ["operator page"],
    summary,
    responses: { 200: { description: summary, ...text(type, example) } },
  });

/** Operations (probes, metrics), the operator's page and the API's own documentation. */
export function opsRoutes() {
  return {
    getHealth: defineRoute({
      method: "get",
      path: "/healthz",
      operationId: "getHealth",
      tags: ["operations"],
      summary: "Liveness",
      responses: {
        200: {
          description: "The process runs",
          ...json(z.object({ status: z.literal("ok") }), { status: "ok" }),
        },
      },
    }),
    getReadiness: defineRoute({
      method: "get",
      path: "/readyz",
      operationId: "getReadiness",
      tags: ["operations"],
      summary: "Readiness: the database answers",
      responses: {
        200: {
          description: "Ready",
          ...json(z.object({ status: z.literal("ready") }), { status: "ready" }),
        },
        ...problems({ service_unavailable: "the database does not answer" }),
      },
    }),
    getMetrics: defineRoute({
      method: "get",
      path: "/metrics",
      operationId: "getMetrics",
      tags: ["metrics"],
      summary: "Prometheus metrics",
      description: "Every worker's series in one answer (each labelled `worker` when WORKERS > 1).",
      responses: {
        200: {
          description: "Prometheus text format",
          ...text(
            "text/plain",
            '# TYPE db_pool_connections gauge\ndb_pool_connections{state="busy"} 2\n',
          ),
        },
      },
    }),
    getOpenApiDocument: defineRoute({
      method: "get",
      path: "/openapi.json",
      operationId: "getOpenApiDocument",
      tags: ["documentation"],
      summary: "This document",
      responses: {
        200: {
          description: "OpenAPI 3.1",
          ...json(z.record(z.string(), z.unknown()), { openapi: "3.1.0" }),
        },
      },
    }),
    getApiReference: defineRoute({
      method: "get",
      path: "/docs",
      operationId: "getApiReference",
      tags: ["documentation"],
      summary: "API reference page (renders this document)",
      responses: {
        200: { description: "HTML", ...text("text/html", "<!doctype html>…") },
      },
    }),
    getOperatorPage: page(
      "/admin",
      "getOperatorPage",
      "The operator's page (asks for the admin token; every asset from this service)",
      "text/html",
      "<!doctype html>…",
    ),
    getOperatorScript: page(
      "/admin/admin.js",
      "getOperatorScript",
      "The operator's page script",
      "text/javascript",
      "…",
    ),
    getOperatorStyle: page(
      "/admin/admin.css",
      "getOperatorStyle",
      "The operator's page style",
      "text/css",
      "…",
    ),
  };
}
