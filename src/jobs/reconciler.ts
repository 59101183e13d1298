import { Cron } from "croner";
import type { Deps } from "../deps-type";
import { findBuyerLimitBreaches, findStockDrift } from "../services/reconcile";
import { logJobFailure } from "./failures";

export function startReconciler(deps: Deps): Cron {
  return new Cron(
    deps.config.RECONCILE_CRON,
    {
      name: "reconciler",
      protect: true,
      catch: (err) => logJobFailure(deps, "reconciler", err),
    },
    async () => {
      const drift = await findStockDrift(deps);
      deps.metrics.stockDrift.set(drift.length);
      for (const product of drift)
        deps.logger.error({ drift: product }, "stock counters drifted from holds and orders");
      const breaches = await findBuyerLimitBreaches(deps);
      deps.metrics.buyerLimitBreaches.set(breaches.length);
      for (const breach of breaches)
        deps.logger.error({ breach }, "a buyer holds more than the product's max_per_buyer");
    },
  );
}
