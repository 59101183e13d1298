import type { Deps } from "../../deps-type";
import { listAuditEntries } from "../../services/audit";
import { listMerchantEvents, redeliverEvent } from "../../services/merchant-events";
import { cancelOrder, exportOrders, listOrders } from "../../services/orders";
import { listPaymentConflicts, resolvePaymentConflict } from "../../services/payments";
import {
  correctStock,
  createProduct,
  restockProduct,
  updateProduct,
} from "../../services/products";
import { listProducts } from "../../services/sale-report";
import { deadlineOf } from "../bindings";
import { actorOf } from "../client-address";
import { adminAuth } from "../middleware/admin-auth";
import type { Router } from "../route";
import type { adminRoutes } from "./admin.routes";

export function serveAdmin(router: Router, routes: ReturnType<typeof adminRoutes>, deps: Deps) {
  // Every path under /api/admin, routes or not, needs the token: a stranger learns nothing.
  router.app.use("/api/admin/*", adminAuth(deps.config.ADMIN_TOKEN));
  const trustProxy = deps.config.TRUST_PROXY;
  router.handle(routes.createProduct, async (c, { json }) => {
    return c.json(await createProduct(deps, json, deadlineOf(c), actorOf(c, trustProxy)), 201);
  });
  router.handle(routes.updateProduct, async (c, { param, json }) => {
    return c.json(await updateProduct(deps, param.id, json, deadlineOf(c), actorOf(c, trustProxy)));
  });
  router.handle(routes.listProducts, async (c, { query }) => {
    return c.json(await listProducts(deps, query, deadlineOf(c)));
  });
  router.handle(routes.listPaymentConflicts, async (c, { query }) => {
    return c.json(await listPaymentConflicts(deps, query, deadlineOf(c)));
  });
  router.handle(routes.resolvePaymentConflict, async (c, { param, json }) => {
    return c.json(
      await resolvePaymentConflict(deps, param.id, json, deadlineOf(c), actorOf(c, trustProxy)),
    );
  });
  router.handle(routes.listMerchantEvents, async (c, { query }) => {
    return c.json(await listMerchantEvents(deps, query, deadlineOf(c)));
  });
  router.handle(routes.redeliverMerchantEvent, async (c, { param }) => {
    return c.json(await redeliverEvent(deps, param.id, deadlineOf(c), actorOf(c, trustProxy)), 202);
  });
  router.handle(routes.restockProduct, async (c, { param, json }) => {
    const actor = actorOf(c, trustProxy);
    return c.json(await restockProduct(deps, param.id, json.qty, deadlineOf(c), actor));
  });
  router.handle(routes.correctStock, async (c, { param, json }) => {
    return c.json(await correctStock(deps, param.id, json, deadlineOf(c), actorOf(c, trustProxy)));
  });
  router.handle(routes.listAdminOrders, async (c, { query }) => {
    return c.json(await listOrders(deps, query, deadlineOf(c)));
  });
  router.handle(routes.exportOrders, async (c, { query }) => {
    return c.body(await exportOrders(deps, query, deadlineOf(c)), 200, {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": 'attachment; filename="orders.csv"',
      "cache-control": "no-store",
    });
  });
  router.handle(routes.cancelOrder, async (c, { param, json }) => {
    return c.json(await cancelOrder(deps, param.id, json, deadlineOf(c), actorOf(c, trustProxy)));
  });
  router.handle(routes.listAuditEntries, async (c, { query }) => {
    return c.json(await listAuditEntries(deps, query, deadlineOf(c)));
  });
}
