import { sql } from "drizzle-orm";
import { bigint, datetime, varbinary } from "drizzle-orm/mysql-core";

export const id = () =>
  bigint("id", { mode: "number", unsigned: true }).autoincrement().primaryKey();

export const ref = (name: string) => bigint(name, { mode: "number", unsigned: true });

export const timestamp = (name: string) => datetime(name, { mode: "date", fsp: 3 });

export const createdAt = () => timestamp("created_at").notNull().default(sql`CURRENT_TIMESTAMP(3)`);

/** A JWT `sub` is at most 128 characters, each at most 4 bytes of UTF-8. */
export const BUYER_ID_BYTES = 512;

export const buyerId = () => varbinary("buyer_id", { length: BUYER_ID_BYTES });
