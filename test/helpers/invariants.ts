import type mysql from "mysql2/promise";
import { count, rows } from "./harness";

// The contract's invariants (API.md, Database), checked in SQL, and the counts tests read beside them.

/** How many holds there are, of one product when `productId` is given. */
export const holdCount = (pool: mysql.Pool, productId?: number): Promise<number> =>
  productId === undefined
    ? count(pool, "SELECT COUNT(*) AS n FROM holds")
    : count(pool, "SELECT COUNT(*) AS n FROM holds WHERE product_id = ?", [productId]);

/** A hold's row as the database has it (its status), not as the API shows it. */
export const storedHold = async (
  pool: mysql.Pool,
  holdId: number,
): Promise<{ status: string } | undefined> =>
  (await rows<{ status: string }>(pool, "SELECT status FROM holds WHERE id = ?", [holdId]))[0];

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
 * The contract's invariants 1 to 8, checked in SQL for every product. `expectedTotals` maps a
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
  problems.push(...(await waitingRoomViolations(pool)));
  return problems;
}

/**
 * Invariants 7 and 8: every hold granted since the product's waiting room was last switched on
 * (while it still has one) belongs to a buyer admitted at its created_at (by a ticket's written admission); positions 1..N without gap or
 * repeat, admitted in position order and never before their joining; at most one live ticket
 * (no admission written, or one not yet ended) per buyer and product.
 */
async function waitingRoomViolations(pool: mysql.Pool): Promise<string[]> {
  const problems: string[] = [];
  const unadmitted = await rows<{ id: number; product_id: number }>(
    pool,
    `SELECT h.id, h.product_id FROM holds h JOIN products p ON p.id = h.product_id
     JOIN waiting_rooms w ON w.product_id = p.id
     WHERE p.admit_per_second IS NOT NULL AND h.created_at >= w.on_since AND NOT EXISTS (
       SELECT 1 FROM queue_tickets t WHERE t.product_id = h.product_id AND t.buyer_id = h.buyer_id
       AND t.admitted_at <= h.created_at AND h.created_at < t.admitted_until)`,
  );
  for (const h of unadmitted) {
    problems.push(`hold ${h.id} on product ${h.product_id}: its buyer was not admitted then`);
  }
  const gaps = await rows<{
    product_id: number;
    n: number;
    top: number | null;
    low: number | null;
  }>(
    pool,
    `SELECT product_id, COUNT(position) AS n, MAX(position) AS top, MIN(position) AS low
     FROM queue_tickets GROUP BY product_id HAVING COUNT(position) > 0
     AND (MAX(position) <> COUNT(position) OR MIN(position) <> 1 OR COUNT(DISTINCT position) <> COUNT(position))`,
  );
  for (const g of gaps) {
    problems.push(`product ${g.product_id}: ${g.n} positions from ${g.low} to ${g.top}`);
  }
  const disorder = await rows<{ id: number }>(
    pool,
    `SELECT id FROM (SELECT id, admitted_at, LAG(admitted_at) OVER (PARTITION BY product_id ORDER BY position) AS before_it
       FROM queue_tickets WHERE admitted_at IS NOT NULL) x WHERE before_it > admitted_at`,
  );
  for (const t of disorder) problems.push(`ticket ${t.id}: admitted before a lower position`);
  const early = await rows<{ id: number }>(
    pool,
    "SELECT id FROM queue_tickets WHERE admitted_at < joined_at",
  );
  for (const t of early) problems.push(`ticket ${t.id}: admitted before it joined`);
  const doubles = await rows<{ product_id: number; n: number }>(
    pool,
    `SELECT product_id, COUNT(*) AS n FROM queue_tickets
     WHERE admitted_until IS NULL OR admitted_until > NOW(3)
     GROUP BY product_id, buyer_id HAVING COUNT(*) > 1`,
  );
  for (const d of doubles)
    problems.push(`product ${d.product_id}: a buyer has ${d.n} live tickets`);
  return problems;
}
