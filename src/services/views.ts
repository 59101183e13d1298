import type { ConflictResolution, HoldStatus, OrderStatus, PaymentEventStatus } from "../db/schema";
import type { LineFigures, ProductView } from "../lib/product-view";
import { saleStateAt } from "../lib/sale-window";

export type HoldView = {
  hold_id: number;
  product_id: number;
  buyer_id: string | null;
  qty: number;
  status: HoldStatus;
  expires_at: string;
  order_id?: number;
};

export type OrderView = {
  order_id: number;
  hold_id: number;
  product_id: number;
  buyer_id: string | null;
  qty: number;
  unit_price_cents: number;
  total_cents: number;
  status: OrderStatus;
  created_at: string;
};

type ProductRow = {
  id: number;
  name: string;
  priceCents: number;
  stockAvailable: number;
  stockReserved: number;
  maxPerBuyer: number | null;
  saleStartsAt: Date | null;
  saleEndsAt: Date | null;
  admitPerSecond: number | null;
  admissionSeconds: number | null;
};

/** The product as the API shows it, its sale state as of `now` (ms since the epoch). */
export function toProductView(row: ProductRow, now: number, line?: LineFigures): ProductView {
  const startsAt = row.saleStartsAt?.getTime() ?? null;
  const endsAt = row.saleEndsAt?.getTime() ?? null;
  return {
    id: row.id,
    name: row.name,
    price_cents: row.priceCents,
    stock_available: row.stockAvailable,
    stock_reserved: row.stockReserved,
    available: row.stockAvailable - row.stockReserved,
    max_per_buyer: row.maxPerBuyer,
    sale_starts_at: row.saleStartsAt?.toISOString() ?? null,
    sale_ends_at: row.saleEndsAt?.toISOString() ?? null,
    sale_state: saleStateAt(startsAt, endsAt, now),
    waiting_room:
      row.admitPerSecond === null || row.admissionSeconds === null
        ? null
        : {
            admit_per_second: row.admitPerSecond,
            admission_seconds: row.admissionSeconds,
            serving: line?.serving ?? 0,
            joined: line?.joined ?? 0,
          },
  };
}

type HoldRow = {
  id: number;
  productId: number;
  buyerId: string | null;
  qty: number;
  status: HoldStatus;
  expiresAt: Date;
};

/** A hold just granted: active, with its expiry already written as the API shows it. */
export function grantedHoldView(
  row: Pick<HoldRow, "id" | "productId" | "buyerId" | "qty">,
  expiresAt: string,
): HoldView {
  return {
    hold_id: row.id,
    product_id: row.productId,
    buyer_id: row.buyerId,
    qty: row.qty,
    status: "active",
    expires_at: expiresAt,
  };
}

/** A hold past its expiry reads `expired` even before the sweeper has written it. */
export function toHoldView(row: HoldRow, now: Date, orderId?: number): HoldView {
  const status = row.status === "active" && row.expiresAt <= now ? "expired" : row.status;
  const view: HoldView = {
    hold_id: row.id,
    product_id: row.productId,
    buyer_id: row.buyerId,
    qty: row.qty,
    status,
    expires_at: row.expiresAt.toISOString(),
  };
  if (orderId !== undefined) view.order_id = orderId;
  return view;
}

type OrderRow = {
  id: number;
  holdId: number;
  productId: number;
  buyerId: string | null;
  qty: number;
  unitPriceCents: number;
  totalCents: number;
  status: OrderStatus;
  createdAt: Date;
};

export function toOrderView(row: OrderRow): OrderView {
  return {
    order_id: row.id,
    hold_id: row.holdId,
    product_id: row.productId,
    buyer_id: row.buyerId,
    qty: row.qty,
    unit_price_cents: row.unitPriceCents,
    total_cents: row.totalCents,
    status: row.status,
    created_at: row.createdAt.toISOString(),
  };
}

export type PaymentConflict = {
  id: number;
  idempotency_key: string;
  order_id: number;
  status: PaymentEventStatus;
  order_status: OrderStatus | null;
  received_at: string;
  resolved_at: string | null;
  resolution: ConflictResolution | null;
};

type ConflictRow = {
  id: number;
  idempotencyKey: string;
  orderId: number;
  status: PaymentEventStatus;
  orderStatus: OrderStatus | null;
  receivedAt: Date;
  resolvedAt: Date | null;
  resolution: ConflictResolution | null;
};

/** A resolution's note is kept with the conflict, not shown: the contract's view has no field for it. */
export function toConflictView(row: ConflictRow): PaymentConflict {
  return {
    id: row.id,
    idempotency_key: row.idempotencyKey,
    order_id: row.orderId,
    status: row.status,
    order_status: row.orderStatus,
    received_at: row.receivedAt.toISOString(),
    resolved_at: row.resolvedAt?.toISOString() ?? null,
    resolution: row.resolution,
  };
}

/** DATETIME(3) values read through raw SQL arrive as 'YYYY-MM-DD hh:mm:ss.fff' in UTC. */
export function parseDbTime(value: string | Date): Date {
  return value instanceof Date ? value : new Date(`${value.replace(" ", "T")}Z`);
}
