import { mediumtext, mysqlTable, varchar } from "drizzle-orm/mysql-core";
import { createdAt, id } from "./columns";

/**
 * Every admin change, written in the transaction that made it: who asked (the request id the
 * answer carried, the client's address), what it touched and each field's before and after.
 */
export const auditEntries = mysqlTable("audit_entries", {
  id: id(),
  at: createdAt(),
  action: varchar("action", { length: 64 }).notNull(),
  // "product:1", "order:7", "conflict:3", "event:11".
  target: varchar("target", { length: 64 }).notNull(),
  requestId: varchar("request_id", { length: 200 }).notNull(),
  clientIp: varchar("client_ip", { length: 64 }),
  // `{ "field": [before, after] }` as JSON text.
  changes: mediumtext("changes").notNull(),
  note: varchar("note", { length: 1000 }),
});
