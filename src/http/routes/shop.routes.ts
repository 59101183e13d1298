import type { RequestSchemas } from "../schemas";
import { shopHoldRoutes } from "./shop/holds.routes";
import { shopOrderRoutes } from "./shop/orders.routes";
import { shopProductRoutes } from "./shop/products.routes";
import { shopQueueRoutes } from "./shop/queue.routes";

/**
 * The shopper API, declared a part a file under shop/: product reads and the live stock
 * stream, the waiting room, holds, orders (and the buyer's own lists); examples.ts and
 * shared.ts what they share.
 */
export function shopRoutes(schemas: RequestSchemas) {
  return {
    ...shopProductRoutes(),
    ...shopQueueRoutes(),
    ...shopHoldRoutes(schemas),
    ...shopOrderRoutes(schemas),
  };
}
