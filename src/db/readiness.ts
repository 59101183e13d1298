import mysql from "mysql2/promise";
import type { DatabaseHealth } from "./health";

/**
 * Answers "does the database answer?" within `timeoutMs` whatever the database does: probes
 * (Kubernetes, load balancers) time out after 1 to 5 s, and a probe that hangs tells them
 * nothing. One connection of its own, so a busy pool never makes a healthy database look down.
 */
export class ReadinessProbe {
  private conn: Promise<mysql.Connection> | undefined;

  constructor(
    private readonly url: string,
    private readonly health: DatabaseHealth,
    private readonly timeoutMs = 1000,
  ) {}

  check(): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.close();
        this.health.failed("unreachable");
        resolve(false);
      }, this.timeoutMs);
      this.ping().then(
        () => {
          clearTimeout(timer);
          this.health.answered();
          resolve(true);
        },
        () => {
          clearTimeout(timer);
          this.close();
          this.health.failed("unreachable");
          resolve(false);
        },
      );
    });
  }

  /** Drops the probe's connection; the next check opens a new one. */
  close(): void {
    const conn = this.conn;
    this.conn = undefined;
    conn?.then(
      (c) => c.destroy(),
      () => undefined,
    );
  }

  private async ping(): Promise<void> {
    this.conn ??= mysql.createConnection({ uri: this.url, connectTimeout: this.timeoutMs });
    const conn = await this.conn;
    await conn.query("SELECT 1");
  }
}
