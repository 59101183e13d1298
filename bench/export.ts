/**
 * BENCH_ONLY=export: the operator's CSV export of a million orders (issue 35). The orders are
 * written straight into the tables with bulk SQL (a sale that made them would take far longer
 * than the export), then exported through a real server process, sampling its RSS every 50 ms:
 * first 100,000 of them (one product's), then all 1,000,000. Memory that did not grow with ten
 * times the rows is memory that does not grow with the rows.
 */
import mysql from "mysql2/promise";

export type ExportKit = {
  freshDatabase: (name: string) => Promise<string>;
  startServer: (
    url: string,
    env: Record<string, string>,
  ) => Promise<{ base: string; pid: number; stop: () => Promise<void> }>;
  rssKiB: (pid: number) => number;
  adminToken: string;
};

const DIGITS =
  "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";

/**
 * Converted holds and their paid orders of `productId`, numbered `from` up to 10^powerOfTen, in
 * one statement each.
 */
async function bulkOrders(db: mysql.Connection, productId: number, powerOfTen: number, from = 0) {
  const tables = Array.from({ length: powerOfTen }, (_, i) => `${DIGITS} AS t${i}`).join(
    " CROSS JOIN ",
  );
  const n = Array.from({ length: powerOfTen }, (_, i) => `t${i}.d * ${10 ** i}`).join(" + ");
  await db.query(
    `INSERT INTO holds (product_id, buyer_id, qty, status, expires_at, created_at)
     SELECT ${productId}, CONCAT('buyer-', ${n}), 1, 'converted', NOW(3), NOW(3) FROM ${tables}
     WHERE ${n} >= ${from}`,
  );
  await db.query(
    `INSERT INTO orders (hold_id, product_id, buyer_id, qty, unit_price_cents, total_cents, status, created_at, updated_at)
     SELECT id, product_id, buyer_id, 1, 12900, 12900, 'paid', created_at, created_at
     FROM holds WHERE product_id = ${productId}`,
  );
}

type Measured = { rows: number; mib: number; seconds: number; peakKiB: number; endKiB: number };

/** One export, read as fast as this process takes it, with the server's RSS sampled meanwhile. */
async function measuredExport(
  kit: ExportKit,
  base: string,
  pid: number,
  query: string,
): Promise<Measured> {
  let peakKiB = kit.rssKiB(pid);
  const sampler = setInterval(() => {
    peakKiB = Math.max(peakKiB, kit.rssKiB(pid));
  }, 50);
  const started = performance.now();
  const response = await fetch(`${base}/api/admin/orders/export${query}`, {
    headers: { authorization: `Bearer ${kit.adminToken}` },
  });
  let bytes = 0;
  let lines = 0;
  for await (const chunk of response.body ?? []) {
    bytes += chunk.byteLength;
    // indexOf, not a loop over bytes: the reader must not be what limits the export's rate.
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  }
  clearInterval(sampler);
  const endKiB = kit.rssKiB(pid);
  peakKiB = Math.max(peakKiB, endKiB);
  return {
    rows: lines - 1,
    mib: bytes / 2 ** 20,
    seconds: (performance.now() - started) / 1000,
    peakKiB,
    endKiB,
  };
}

export async function exportRows(kit: ExportKit): Promise<string> {
  const url = await kit.freshDatabase("flash_sale_bench_export");
  const db = await mysql.createConnection({ uri: url });
  const started = performance.now();
  await db.query(
    "INSERT INTO products (name, price_cents, stock_available, stock_total) VALUES ('Bench A', 12900, 0, 100000), ('Bench B', 12900, 0, 900000)",
  );
  await bulkOrders(db, 1, 5);
  await bulkOrders(db, 2, 6, 100_000);
  const [[count]] = (await db.query("SELECT COUNT(*) AS n FROM orders")) as unknown as [
    [{ n: number }],
  ];
  await db.end();
  const inserted = (performance.now() - started) / 1000;

  const server = await kit.startServer(url, {});
  try {
    const idleKiB = kit.rssKiB(server.pid);
    const small = await measuredExport(kit, server.base, server.pid, "?product_id=1");
    const all = await measuredExport(kit, server.base, server.pid, "");
    const line = (label: string, m: Measured) =>
      `${label}: ${m.rows.toLocaleString()} rows, ${m.mib.toFixed(0)} MiB of CSV in ${m.seconds.toFixed(1)} s (${Math.round(m.rows / m.seconds).toLocaleString()} rows/s); server RSS peak ${(m.peakKiB / 1024).toFixed(0)} MiB (+${((m.peakKiB - idleKiB) / 1024).toFixed(0)} MiB over idle), ${(m.endKiB / 1024).toFixed(0)} MiB at the end`;
    return [
      `orders in the database: ${Number(count.n).toLocaleString()} (bulk SQL in ${inserted.toFixed(0)} s)`,
      `server RSS idle after start-up: ${(idleKiB / 1024).toFixed(0)} MiB`,
      line("export of one product", small),
      line("export of every order", all),
    ].join("\n");
  } finally {
    await server.stop();
  }
}
