import { defineRoute, json, problems } from "../../route";
import { idParams, Ticket } from "../../schemas";
import { ticketExample } from "./examples";
import { invalid, shopper, tags, unavailable } from "./shared";

/** The shopper's waiting room: joining the line and reading a ticket. */
export function shopQueueRoutes() {
  return {
    joinQueue: defineRoute({
      method: "post",
      path: "/api/products/{id}/queue",
      operationId: "joinQueue",
      tags,
      summary:
        "Join the product's waiting room: the buyer's ticket (201 when made, 200 when the buyer already has a live one)",
      description:
        "Positions are 1, 2, 3, ... per product. A buyer who joins before the sale opens is placed at the opening by a draw (position null until then); later joins follow in the order the database saw them. A waiting ticket's answer has Retry-After (an estimate of the wait). No body is read.",
      security: shopper,
      request: { params: idParams("product") },
      responses: {
        201: { description: "A new ticket", ...json(Ticket, ticketExample) },
        200: { description: "The buyer's live ticket, unchanged", ...json(Ticket, ticketExample) },
        ...problems({
          unauthorized: "no valid buyer token (a waiting room needs buyer tokens configured)",
          product_not_found: "no such product",
          no_waiting_room: "the product has no waiting room",
          sale_ended: "the sale window has closed; `ended_at`",
          ...invalid,
          ...unavailable,
        }),
      },
    }),
    getTicket: defineRoute({
      method: "get",
      path: "/api/products/{id}/queue",
      operationId: "getTicket",
      tags,
      summary: "The buyer's latest ticket for the product's waiting room",
      description: "A waiting ticket's answer has Retry-After (an estimate of the wait).",
      security: shopper,
      request: { params: idParams("product") },
      responses: {
        200: { description: "The ticket", ...json(Ticket, ticketExample) },
        ...problems({
          unauthorized: "no valid buyer token (a waiting room needs buyer tokens configured)",
          product_not_found: "no such product",
          no_waiting_room: "the product has no waiting room",
          ticket_not_found: "this buyer has no ticket for the product",
          ...invalid,
          ...unavailable,
        }),
      },
    }),
  };
}
