import { defineRoute, json, problems } from "../../route";
import {
  idParams,
  PageQuery,
  Product,
  ProductReportPage,
  type RequestSchemas,
} from "../../schemas";
import { productExample } from "../shop/examples";
import { security, tags, unauthorized, unavailable } from "./shared";

/** The operator's products (list, create, update, restock, stock corrections). */
export function adminProductRoutes(schemas: RequestSchemas) {
  return {
    listProducts: defineRoute({
      method: "get",
      path: "/api/admin/products",
      operationId: "listProducts",
      tags,
      security,
      summary: "Products with units paid and pending and the sell-out time, by id, keyset-paged",
      request: { query: PageQuery },
      responses: {
        200: {
          description: "A page of products",
          ...json(ProductReportPage, {
            products: [{ ...productExample, units_paid: 40, units_pending: 3, sold_out_at: null }],
            next_after_id: null,
          }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "invalid limit or after_id",
          ...unavailable,
        }),
      },
    }),
    createProduct: defineRoute({
      method: "post",
      path: "/api/admin/products",
      operationId: "createProduct",
      tags,
      security,
      summary: "Create a product",
      request: {
        body: {
          required: true,
          ...json(schemas.CreateProductInput, {
            name: "Limited sneaker",
            price_cents: 12900,
            stock: 100,
            max_per_buyer: 2,
            sale_starts_at: "2026-11-24T14:00:00.000Z",
          }),
        },
      },
      responses: {
        201: {
          description: "The product",
          ...json(Product, { ...productExample, stock_reserved: 0, available: 100 }),
        },
        ...problems({
          ...unauthorized,
          validation_failed: "a body field is not valid, or the sale would end before it starts",
          ...unavailable,
        }),
      },
    }),
    updateProduct: defineRoute({
      method: "patch",
      path: "/api/admin/products/{id}",
      operationId: "updateProduct",
      tags,
      security,
      summary:
        "Rename a product, change its price or per-buyer limit, move its sale window, or set, change or remove its waiting room (existing holds, orders and tickets are kept); 422 when the end would not be after the start",
      request: {
        params: idParams("product"),
        body: {
          required: true,
          ...json(schemas.UpdateProductInput, {
            max_per_buyer: 1,
            sale_ends_at: null,
            waiting_room: { admit_per_second: 50, admission_seconds: 300 },
          }),
        },
      },
      responses: {
        200: {
          description: "The product",
          ...json(Product, {
            ...productExample,
            max_per_buyer: 1,
            waiting_room: { admit_per_second: 50, admission_seconds: 300, serving: 0, joined: 0 },
          }),
        },
        ...problems({
          ...unauthorized,
          product_not_found: "no such product",
          validation_failed: "a field is not valid, or the sale would end before it starts",
          ...unavailable,
        }),
      },
    }),
    restockProduct: defineRoute({
      method: "post",
      path: "/api/admin/products/{id}/restock",
      operationId: "restockProduct",
      tags,
      security,
      summary: "Add units to a product",
      request: {
        params: idParams("product"),
        body: { required: true, ...json(schemas.RestockInput, { qty: 50 }) },
      },
      responses: {
        200: {
          description: "The product",
          ...json(Product, { ...productExample, stock_available: 150, available: 143 }),
        },
        ...problems({
          ...unauthorized,
          product_not_found: "no such product",
          validation_failed: "the id or qty is not valid",
          ...unavailable,
        }),
      },
    }),
    correctStock: defineRoute({
      method: "post",
      path: "/api/admin/products/{id}/stock-corrections",
      operationId: "correctStock",
      tags,
      security,
      summary:
        "Correct a miscount of stock_available up or down (never below the units in active holds)",
      request: {
        params: idParams("product"),
        body: {
          required: true,
          ...json(schemas.StockCorrectionInput, { delta: -5, note: "5 found damaged" }),
        },
      },
      responses: {
        200: {
          description: "The product",
          ...json(Product, { ...productExample, stock_available: 95, available: 88 }),
        },
        ...problems({
          ...unauthorized,
          product_not_found: "no such product",
          stock_in_use: "the correction would leave fewer units than active holds have; `reserved`",
          validation_failed: "the id, delta or note is not valid",
          ...unavailable,
        }),
      },
    }),
  };
}
