import { Hono } from "hono";
import type { Deps } from "../../deps-type";
import { applyPaymentEvent } from "../../services/payments";
import { deadlineOf } from "../bindings";
import { jsonBody, webhookSignature } from "../middleware";
import type { RequestSchemas } from "../schemas";
import { validate } from "../validate";

export function paymentRoutes(deps: Deps, schemas: RequestSchemas) {
  return new Hono().post(
    "/webhook",
    webhookSignature(deps.config.WEBHOOK_SECRET, deps.config.WEBHOOK_ALLOW_UNSIGNED),
    jsonBody,
    validate("json", schemas.PaymentEventInput),
    async (c) => {
      const result = await applyPaymentEvent(deps, c.req.valid("json"), deadlineOf(c));
      return c.json(result.body, result.httpStatus);
    },
  );
}
