import type { RequestSchemas } from "../schemas";
import { adminAuditRoutes } from "./admin/audit.routes";
import { adminEventRoutes } from "./admin/events.routes";
import { adminOrderRoutes } from "./admin/orders.routes";
import { adminProductRoutes } from "./admin/products.routes";

/**
 * The operator's API (bearer ADMIN_TOKEN), declared a room a file under admin/: products,
 * orders, the audit log, events (payment conflicts and merchant events).
 */
export function adminRoutes(schemas: RequestSchemas) {
  return {
    ...adminProductRoutes(schemas),
    ...adminOrderRoutes(schemas),
    ...adminAuditRoutes(),
    ...adminEventRoutes(schemas),
  };
}
