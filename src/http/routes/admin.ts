import { Hono } from "hono";
import type { Deps } from "../../deps";
import { createProduct, restockProduct, updateProduct } from "../../services/products";
import { listPaymentConflicts, listProducts } from "../../services/sale-report";
import { deadlineOf } from "../bindings";
import { adminAuth, jsonBody } from "../middleware";
import { IdParams, PageQuery, type RequestSchemas } from "../schemas";
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
    .get("/payment-conflicts", validate("query", PageQuery), async (c) => {
      return c.json(await listPaymentConflicts(deps, c.req.valid("query"), deadlineOf(c)));
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
