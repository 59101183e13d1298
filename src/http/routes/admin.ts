import { Hono } from "hono";
import type { Deps } from "../../deps";
import { createProduct, restockProduct } from "../../services/products";
import { deadlineOf } from "../lifecycle";
import { adminAuth, jsonBody } from "../middleware";
import { IdParams, type RequestSchemas } from "../schemas";
import { validate } from "../validate";

export function adminRoutes(deps: Deps, schemas: RequestSchemas) {
  return new Hono()
    .use(adminAuth(deps.config.ADMIN_TOKEN))
    .post("/products", jsonBody, validate("json", schemas.CreateProductInput), async (c) => {
      return c.json(await createProduct(deps, c.req.valid("json"), deadlineOf(c)), 201);
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
