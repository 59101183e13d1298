import { sql } from "drizzle-orm";
import type { Tx } from "../../db/client";
import { AppError, notFound } from "../../errors";
import type { RoomProduct } from "../../lib/waiting-room";
import { parseDbTime } from "../views";
import { integers } from "./line";

export type { RoomProduct };

// A product's waiting-room settings and sale window, as the queue calls read them.

type RoomProductRow = {
  id: number | string;
  admit_per_second: number | null;
  admission_seconds: number | null;
  sale_starts_at: Date | string | null;
  sale_ends_at: Date | string | null;
};

export const roomProductColumns = (alias: string) =>
  ["admit_per_second", "admission_seconds", "sale_starts_at", "sale_ends_at"]
    .map((column) => `${alias}.${column}`)
    .join(", ");

export function roomProductOf(row: RoomProductRow): RoomProduct {
  return {
    id: Number(row.id),
    admitPerSecond: row.admit_per_second,
    admissionSeconds: row.admission_seconds,
    saleStartsAt: row.sale_starts_at === null ? null : parseDbTime(row.sale_starts_at).getTime(),
    saleEndsAt: row.sale_ends_at === null ? null : parseDbTime(row.sale_ends_at).getTime(),
  };
}

/** The read of the product's settings (after the line's lock, which a PATCH takes). */
export function roomProductStatement(productId: number): string {
  integers(productId);
  return `SELECT p.id, ${roomProductColumns("p")} FROM products p WHERE p.id = ${productId}`;
}

/** The product of `roomProductStatement`'s rows, if it exists. */
export function roomProductOfRows(rows: unknown): RoomProduct | undefined {
  const row = (rows as RoomProductRow[])[0];
  return row && roomProductOf(row);
}

/** The product's settings as last committed (read after the line's lock, which a PATCH takes). */
export async function readRoomProduct(tx: Tx, productId: number): Promise<RoomProduct | undefined> {
  const [rows] = (await tx.execute(sql.raw(roomProductStatement(productId)))) as unknown as [
    unknown,
  ];
  return roomProductOfRows(rows);
}

/** Whether the draw is due at `now`: tickets wait for it and the opening has passed. */
export function drawDue(unplaced: number, product: RoomProduct, now: number): boolean {
  return unplaced > 0 && (product.saleStartsAt === null || product.saleStartsAt <= now);
}

export function noWaitingRoom(id: number): AppError {
  return new AppError("no_waiting_room", `Product ${id} has no waiting room.`);
}

export function needsBuyer(id: number): AppError {
  return new AppError(
    "unauthorized",
    `Product ${id} has a waiting room, which needs a buyer token; none is configured or sent.`,
  );
}

export function ticketNotFound(id: number): AppError {
  return new AppError("ticket_not_found", `This buyer has no ticket for product ${id}.`);
}

/** The refusal of a queue call for a product that is missing or has no waiting room. */
export function roomRefusal(product: RoomProduct | undefined, id: number): AppError | undefined {
  if (!product) return notFound.product(id);
  if (product.admitPerSecond === null) return noWaitingRoom(id);
  return undefined;
}
