import { z } from "@hono/zod-openapi";
import { defineRoute, json, problems } from "../../route";
import { idParams, Product } from "../../schemas";
import { productExample } from "./examples";
import { invalid, tags, unavailable } from "./shared";

/** The shopper's product reads and the live stock stream. */
export function shopProductRoutes() {
  return {
    getProduct: defineRoute({
      method: "get",
      path: "/api/products/{id}",
      operationId: "getProduct",
      tags,
      summary: "Read a product and its available stock (cached)",
      description:
        "Carries `ETag` (moves with the product, not with `sale_state`) and `Cache-Control: public, max-age=S`, S the cache TTL in whole seconds but never past the next edge of the sale window. `If-None-Match` with the current tag: 304.",
      request: {
        params: idParams("product"),
        headers: z.object({
          "if-none-match": z
            .string()
            .optional()
            .openapi({ description: "An ETag of an earlier read: 304 while it is still current" }),
        }),
      },
      responses: {
        200: { description: "The product", ...json(Product, productExample) },
        304: { description: "Not modified: the ETag is current (no body)" },
        ...problems({ product_not_found: "no such product", ...invalid, ...unavailable }),
      },
    }),
    streamProductStock: defineRoute({
      method: "get",
      path: "/api/products/{id}/events",
      operationId: "streamProductStock",
      tags,
      summary:
        "Live stock (Server-Sent Events): the product now, then at most one `stock` event per STOCK_EVENTS_INTERVAL_MS while it changes",
      request: { params: idParams("product") },
      responses: {
        200: {
          description:
            "text/event-stream of `event: stock`, `id: <a number that grows with every change>`, `data: <the product as GET returns it>`; the sale window's opening and closing count as changes; a comment every 15 s",
          content: {
            "text/event-stream": {
              schema: z.string(),
              example: `event: stock\nid: 1\ndata: ${JSON.stringify(productExample)}\n\n`,
            },
          },
        },
        ...problems({
          product_not_found: "no such product",
          ...invalid,
          service_unavailable: "this process already serves STOCK_EVENTS_MAX_STREAMS streams",
        }),
      },
    }),
  };
}
