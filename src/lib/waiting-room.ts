// A waiting room's data as the service and this process's copy of it (state/ticket-board.ts)
// both hold it: the line's row, a ticket, the product's settings (times in ms since the epoch).

export type Line = {
  productId: number;
  /** Positions given: the line's last position. */
  positions: number;
  /** Tickets given, rejoins included. */
  joined: number;
  /** Tickets that joined before the opening and wait for the draw. */
  unplaced: number;
  servingBase: number;
  servingSince: number;
  rate: number;
  /** The highest position whose admitted_at and admitted_until are written. */
  materialized: number;
};

export type Ticket = {
  id: number;
  productId: number;
  buyerId: string;
  position: number | null;
  joinedAt: number;
  admittedAt: number | null;
  admittedUntil: number | null;
};

export type RoomProduct = {
  id: number;
  admitPerSecond: number | null;
  admissionSeconds: number | null;
  saleStartsAt: number | null;
  saleEndsAt: number | null;
};
