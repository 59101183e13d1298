import type { SaleState } from "./sale-window";

/** A product as the API shows it (and as this process's cache keeps it). */
export type ProductView = {
  id: number;
  name: string;
  price_cents: number;
  stock_available: number;
  stock_reserved: number;
  available: number;
  max_per_buyer: number | null;
  sale_starts_at: string | null;
  sale_ends_at: string | null;
  sale_state: SaleState;
  waiting_room: WaitingRoomView | null;
};

/** A product's waiting room: its settings, the highest position admitted, the tickets given. */
export type WaitingRoomView = {
  admit_per_second: number;
  admission_seconds: number;
  serving: number;
  joined: number;
};

/** Where a waiting room's line stands: what the product's `waiting_room` shows beside its settings. */
export type LineFigures = { serving: number; joined: number };
