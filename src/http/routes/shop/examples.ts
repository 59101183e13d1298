import type { z } from "@hono/zod-openapi";
import type { Hold, Order, Product, Ticket } from "../../schemas";

// The examples the shopper routes (and the operator's) show in the OpenAPI document.

export const productExample = {
  id: 1,
  name: "Limited sneaker",
  price_cents: 12900,
  stock_available: 100,
  stock_reserved: 7,
  available: 93,
  max_per_buyer: 2,
  sale_starts_at: "2026-11-24T14:00:00.000Z",
  sale_ends_at: null,
  sale_state: "live",
  waiting_room: null,
} satisfies z.input<typeof Product>;

export const ticketExample = {
  ticket_id: 77,
  product_id: 1,
  buyer_id: "buyer-7",
  position: 1234,
  state: "waiting",
  ahead: 180,
  joined_at: "2026-11-24T13:58:41.530Z",
  admitted_at: null,
  admitted_until: null,
} satisfies z.input<typeof Ticket>;

export const holdExample = {
  hold_id: 42,
  product_id: 1,
  buyer_id: "buyer-7",
  qty: 2,
  status: "active",
  expires_at: "2026-11-24T14:05:07.123Z",
} satisfies z.input<typeof Hold>;

export const orderExample = {
  order_id: 7,
  hold_id: 42,
  product_id: 1,
  buyer_id: "buyer-7",
  qty: 2,
  unit_price_cents: 12900,
  total_cents: 25800,
  status: "pending",
  created_at: "2026-11-24T14:03:09.001Z",
} satisfies z.input<typeof Order>;
