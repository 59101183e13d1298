import { Hono } from "hono";
import type { Deps } from "../../deps-type";
import { listMerchantEvents, redeliverEvent } from "../../services/merchant-events";
import { listPaymentConflicts, resolvePaymentConflict } from "../../services/payment-conflicts";
import { createProduct, restockProduct, updateProduct } from "../../services/products";
import { listProducts } from "../../services/sale-report";
import { deadlineOf } from "../bindings";
import { adminAuth, jsonBody } from "../middleware";
import {
  ConflictPageQuery,
  EventPageQuery,
  IdParams,
  PageQuery,
  type RequestSchemas,
} from "../schemas";
import { validate } from "../validate";

export function adminRoutes(deps: Deps, schemas: RequestSchemas) {
  return new Hono()
    .use(adminAuth(deps.config.ADMIN_TOKEN))
    .post("/products", jsonBody, validate("json", schemas.CreateProductInput), async (c) => {
      return c.json(await createProduct(deps, c.req.valid("json"), deadlineOf(c)), 201);
    })
    .patch(
      "/products/:id",
      validate("param", IdParams),
      jsonBody,
      validate("json", schemas.UpdateProductInput),
      async (c) => {
        const { id } = c.req.valid("param");
        return c.json(await updateProduct(deps, id, c.req.valid("json"), deadlineOf(c)));
      },
    )
    .get("/products", validate("query", PageQuery), async (c) => {
      return c.json(await listProducts(deps, c.req.valid("query"), deadlineOf(c)));
    })
    .get("/payment-conflicts", validate("query", ConflictPageQuery), async (c) => {
      return c.json(await listPaymentConflicts(deps, c.req.valid("query"), deadlineOf(c)));
    })
    .post(
      "/payment-conflicts/:id/resolve",
      validate("param", IdParams),
      jsonBody,
      validate("json", schemas.ResolveConflictInput),
      async (c) => {
        const { id } = c.req.valid("param");
        return c.json(await resolvePaymentConflict(deps, id, c.req.valid("json"), deadlineOf(c)));
      },
    )
    .get("/events", validate("query", EventPageQuery), async (c) => {
      return c.json(await listMerchantEvents(deps, c.req.valid("query"), deadlineOf(c)));
    })
    .post("/events/:id/redeliver", validate("param", IdParams), async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await redeliverEvent(deps, id, deadlineOf(c)), 202);
    })
    .post(
      "/products/:id/restock",
      validate("param", IdParams),
      jsonBody,
      validate("json", schemas.RestockInput),
      async (c) => {
        const product = await restockProduct(
          deps,
          c.req.valid("param").id,
          c.req.valid("json").qty,
          deadlineOf(c),
        );
        return c.json(product);
      },
    );
}
