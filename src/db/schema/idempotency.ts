import {
  char,
  index,
  mediumtext,
  mysqlTable,
  smallint,
  uniqueIndex,
  varbinary,
  varchar,
} from "drizzle-orm/mysql-core";
import { BUYER_ID_BYTES, createdAt, id, timestamp } from "./columns";

export const idempotencyKeys = mysqlTable(
  "idempotency_keys",
  {
    id: id(),
    scope: varchar("scope", { length: 64 }).notNull(),
    // Keys are per buyer: two buyers may use the same key. Empty for anonymous shoppers.
    buyerId: varbinary("buyer_id", { length: BUYER_ID_BYTES }).notNull().default(""),
    // Binary for byte-for-byte comparison; the header allows only printable ASCII.
    idempotencyKey: varbinary("idempotency_key", { length: 255 }).notNull(),
    fingerprint: char("fingerprint", { length: 64 }).notNull(),
    responseStatus: smallint("response_status"),
    responseBody: mediumtext("response_body"),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at").notNull(),
  },
  (t) => [
    uniqueIndex("idempotency_keys_scope_buyer_key_unique").on(t.scope, t.buyerId, t.idempotencyKey),
    index("idempotency_keys_expires_at_idx").on(t.expiresAt),
  ],
);
