import { LRUCache } from "lru-cache";
import type { Line, RoomProduct, Ticket } from "../lib/waiting-room";

/** A line as this process last read it, with how far the database's clock was from its own. */
export type SeenLine = { line: Line; product: RoomProduct; offsetMs: number };

/**
 * A ticket's answer as last served from a line: its body, serialised once, and what it showed
 * that moves with time, so that the next read of the same line showing the same serves it again.
 */
export type ServedTicket = {
  seen: SeenLine;
  state: string;
  ahead: number | null;
  retryAfter: number | undefined;
  body: string;
};

/**
 * This process's copy of waiting rooms' lines (for PRODUCT_CACHE_TTL_MS) and of buyers' latest
 * tickets: a waiting buyer's repeated ticket read is answered from memory, its
 * state computed from the line (admission is a function of the line and the database's clock,
 * which the copy carries as an offset, so a process's own clock never decides it). Only a
 * ticket with a position is kept (one awaiting the draw is read again), and this process's own
 * joins and changes of settings replace or drop what they changed; another process's within the
 * TTL, as for product reads.
 */
export class TicketBoard {
  private readonly lines: LRUCache<number, SeenLine>;
  private readonly tickets: LRUCache<string, Ticket>;

  private readonly loading = new Map<number, Promise<SeenLine | undefined>>();
  /** Kept as long as the ticket it was made from is. */
  private readonly answers = new WeakMap<Ticket, ServedTicket>();

  /**
   * Lines for `ttlMs`; tickets ten times as long, as a ticket changes only by a draw (one
   * awaiting it is not kept), by a written admission (the value its line's segment computes,
   * so a copy without it is read again once a newer line has written past it: `outdated` in
   * services/waiting-room/read.ts) or by its buyer joining again (through this process:
   * replaced at once).
   */
  constructor(ttlMs: number, max = 100_000) {
    const ttl = Math.max(ttlMs, 1);
    this.lines = new LRUCache({ max: 10_000, ttl, ttlAutopurge: false });
    this.tickets = new LRUCache({ max, ttl: ttl * 10, ttlAutopurge: false });
  }

  /** Reads a line once however many reads miss it at the same moment, and keeps it. */
  loadLine(productId: number, read: () => Promise<SeenLine | undefined>) {
    let pending = this.loading.get(productId);
    if (!pending) {
      pending = read()
        .then((seen) => {
          if (seen) this.saw(seen);
          return seen;
        })
        .finally(() => this.loading.delete(productId));
      this.loading.set(productId, pending);
    }
    return pending;
  }

  line(productId: number): SeenLine | undefined {
    return this.lines.get(productId);
  }

  ticket(productId: number, buyer: string): Ticket | undefined {
    return this.tickets.get(`${productId}:${buyer}`);
  }

  /** The ticket's answer as last served, if any. */
  served(ticket: Ticket): ServedTicket | undefined {
    return this.answers.get(ticket);
  }

  serve(ticket: Ticket, answer: ServedTicket): void {
    this.answers.set(ticket, answer);
  }

  /** The line as read or changed by this process, and the tickets it read or gave with it. */
  saw(seen: SeenLine, tickets: Ticket[] = []): void {
    this.lines.set(seen.line.productId, seen);
    for (const ticket of tickets) {
      if (ticket.position !== null)
        this.tickets.set(`${ticket.productId}:${ticket.buyerId}`, ticket);
    }
  }

  /** The product's settings changed here: its line is read again. */
  forget(productId: number): void {
    this.lines.delete(productId);
  }
}
