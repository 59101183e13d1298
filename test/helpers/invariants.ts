import type mysql from "mysql2/promise";
import { count, rows } from "./harness";

// The contract's invariants (API.md, Database), checked in SQL, and the counts tests read beside them.

/** How many holds there are, of one product when `productId` is given. */
export const holdCount = (pool: mysql.Pool, productId?: number): Promise<number> =>
  productId === undefined
    ? count(pool, "SELECT COUNT(*) AS n FROM holds")
    : count(pool, "SELECT COUNT(*) AS n FROM holds WHERE product_id = ?", [productId]);

/** How many orders a hold became: the contract allows at most one. */
export const ordersOfHold = (pool: mysql.Pool, holdId: number): Promise<number> =>
  count(pool, "SELECT COUNT(*) AS n FROM orders WHERE hold_id = ?", [holdId]);

/**
 * Invariant 4: a buyer over a product's `max_per_buyer` is a violation unless every one of
 * their holds of it predates the limit's last change (lowering a limit keeps existing holds;
 * any hold granted since was checked against the new limit, and units only shrink otherwise).
 */
async function buyerLimitViolations(pool: mysql.Pool): Promise<string[]> {
  const over = await rows<{ product_id: number; buyer_id: Buffer; units: string; limit: number }>(
    pool,
    `SELECT p.id AS product_id, u.buyer_id, u.units, p.max_per_buyer AS \`limit\`
     FROM products p
     JOIN (SELECT product_id, buyer_id, SUM(qty) AS units FROM (
             SELECT product_id, buyer_id, qty FROM holds
             WHERE status = 'active' AND buyer_id IS NOT NULL
             UNION ALL
             SELECT product_id, buyer_id, qty FROM orders
             WHERE status IN ('pending', 'paid') AND buyer_id IS NOT NULL) AS owned
           GROUP BY product_id, buyer_id) u ON u.product_id = p.id
     WHERE p.max_per_buyer IS NOT NULL AND u.units > p.max_per_buyer
       AND EXISTS (SELECT 1 FROM holds h
                   WHERE h.product_id = p.id AND h.buyer_id = u.buyer_id
                     AND (p.max_per_buyer_set_at IS NULL OR h.created_at > p.max_per_buyer_set_at))`,
  );
  return over.map(
    (o) =>
      `product ${o.product_id}: buyer ${String(o.buyer_id)} has ${o.units} units, limit ${o.limit}`,
  );
}

/**
 * Invariant 6: no hold dated before its product's sale opened or from its end on. Checked
 * against the window as it stands now, so a test that moves a window past holds it granted
 * must check before the move.
 */
async function saleWindowViolations(pool: mysql.Pool): Promise<string[]> {
  const early = await rows<{ id: number; product_id: number; created_at: Date }>(
    pool,
    `SELECT h.id, h.product_id, h.created_at FROM holds h JOIN products p ON p.id = h.product_id
     WHERE h.created_at < p.sale_starts_at OR h.created_at >= p.sale_ends_at`,
  );
  return early.map(
    (h) =>
      `hold ${h.id} of product ${h.product_id}: created at ${h.created_at.toISOString()}, outside the sale window`,
  );
}

/**
 * Invariant 5: every order has exactly one `order.created`, a paid one exactly one
 * `order.paid`, a cancelled one exactly one `order.cancelled`, and no other order event; and no
 * order event names an order that does not exist (a rolled-back creation left its event).
 */
async function orderEventViolations(pool: mysql.Pool): Promise<string[]> {
  const wrong = await rows<{
    id: number;
    status: string;
    created: string;
    paid: string;
    cancelled: string;
  }>(
    pool,
    `SELECT o.id, o.status,
       COALESCE(SUM(e.type = 'order.created'), 0) AS created,
       COALESCE(SUM(e.type = 'order.paid'), 0) AS paid,
       COALESCE(SUM(e.type = 'order.cancelled'), 0) AS cancelled
     FROM orders o
     LEFT JOIN merchant_events e ON e.order_id = o.id AND e.type <> 'payment.conflict'
     GROUP BY o.id, o.status
     HAVING created <> 1 OR paid <> (o.status = 'paid') OR cancelled <> (o.status = 'cancelled')`,
  );
  const orphans = await rows<{ id: number; type: string; order_id: number }>(
    pool,
    `SELECT e.id, e.type, e.order_id FROM merchant_events e
     LEFT JOIN orders o ON o.id = e.order_id
     WHERE e.type <> 'payment.conflict' AND o.id IS NULL`,
  );
  return [
    ...wrong.map(
      (o) =>
        `order ${o.id} (${o.status}): ${o.created} order.created, ${o.paid} order.paid, ${o.cancelled} order.cancelled`,
    ),
    ...orphans.map(
      (e) => `event ${e.id} (${e.type}) names order ${e.order_id}, which does not exist`,
    ),
  ];
}

/**
 * The contract's invariants 1 to 6, checked in SQL for every product. `expectedTotals` maps a
 * product id to the units the test created, restocked and corrected (stock corrections count,
 * up and down), so invariant 3 does not trust any counter the service keeps.
 */
export async function invariantViolations(
  pool: mysql.Pool,
  expectedTotals?: Map<number, number>,
): Promise<string[]> {
  const products = await rows<{
    id: number;
    stock_available: number;
    stock_reserved: number;
    stock_total: number;
    held: string | null;
    ordered: string | null;
  }>(
    pool,
    `SELECT p.id, p.stock_available, p.stock_reserved, p.stock_total,
       (SELECT SUM(qty) FROM holds h WHERE h.product_id = p.id AND h.status = 'active') AS held,
       (SELECT SUM(qty) FROM orders o WHERE o.product_id = p.id AND o.status IN ('pending', 'paid')) AS ordered
     FROM products p`,
  );
  const problems: string[] = [];
  for (const p of products) {
    const held = Number(p.held ?? 0);
    const ordered = Number(p.ordered ?? 0);
    const total = expectedTotals?.get(p.id) ?? p.stock_total;
    if (p.stock_reserved !== held)
      problems.push(`product ${p.id}: stock_reserved ${p.stock_reserved} != active holds ${held}`);
    if (p.stock_reserved < 0 || p.stock_reserved > p.stock_available) {
      problems.push(
        `product ${p.id}: stock_reserved ${p.stock_reserved} outside 0..${p.stock_available}`,
      );
    }
    if (p.stock_available + ordered !== total) {
      problems.push(
        `product ${p.id}: available ${p.stock_available} + ordered ${ordered} != created ${total}`,
      );
    }
  }
  problems.push(...(await buyerLimitViolations(pool)));
  problems.push(...(await saleWindowViolations(pool)));
  problems.push(...(await orderEventViolations(pool)));
  return problems;
}
