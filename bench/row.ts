/** One row of the bench's table (bench/run.ts), whichever module measured it. */
export type Row = {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  granted: number;
  refused: number;
  other: number;
  invariants: string;
  note?: string;
  /** The server's CPU per request, µs, where the row measured it. */
  cpu?: number;
};
