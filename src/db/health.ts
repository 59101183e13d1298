import type { Logger } from "../lib/logger";
import type { TransientReason } from "./errors";

type Gauge = { set: (value: number) => void };

/**
 * Whether the database answers, as the requests and jobs see it. During an outage every
 * request fails; logging each one drowned operators in thousands of identical lines, so this
 * logs once when the database is lost and once when it is back, with the count in between.
 * Metrics go on counting every request.
 */
export class DatabaseHealth {
  private lostAt: number | undefined;
  private failures = 0;

  constructor(
    private readonly logger: Logger,
    private readonly gauge?: Gauge,
  ) {
    gauge?.set(1);
  }

  get up(): boolean {
    return this.lostAt === undefined;
  }

  /** A statement failed for a reason that says nothing about the database being gone. */
  failed(reason: TransientReason): void {
    if (reason !== "unreachable" && reason !== "connection_lost" && reason !== "node_not_ready") {
      return;
    }
    this.failures++;
    if (this.lostAt !== undefined) return;
    this.lostAt = Date.now();
    this.gauge?.set(0);
    this.logger.error({ reason }, "database lost: answering 503 until it is back");
  }

  answered(): void {
    if (this.lostAt === undefined) return;
    const downMs = Date.now() - this.lostAt;
    this.logger.warn({ downMs, failures: this.failures }, "database back");
    this.lostAt = undefined;
    this.failures = 0;
    this.gauge?.set(1);
  }
}
