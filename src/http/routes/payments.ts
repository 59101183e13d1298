import type { Deps } from "../../deps-type";
import { applyPaymentEvent, applyStripeEvent } from "../../services/payments";
import { deadlineOf } from "../bindings";
import { stripeSignature } from "../middleware/stripe-signature";
import { webhookSignature } from "../middleware/webhook-signature";
import type { Router } from "../route";
import type { paymentRoutes } from "./payments.routes";

export function servePayments(
  router: Router,
  routes: ReturnType<typeof paymentRoutes>,
  deps: Deps,
) {
  router.handle(
    routes.receivePaymentEvent,
    async (c, { json }) => {
      const result = await applyPaymentEvent(deps, json, deadlineOf(c));
      return c.json(result.body, result.httpStatus);
    },
    // Over the raw body, before anything reads it as JSON.
    webhookSignature(deps.config.WEBHOOK_SECRET, deps.config.WEBHOOK_ALLOW_UNSIGNED),
  );
  router.handle(
    routes.receiveStripeEvent,
    async (c, { json }) => {
      const result = await applyStripeEvent(deps, json, deadlineOf(c));
      return c.json(result.body, result.httpStatus);
    },
    stripeSignature(deps.config.STRIPE_WEBHOOK_SECRET),
  );
}
