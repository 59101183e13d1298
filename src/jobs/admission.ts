import { Cron } from "croner";
import { Deadline } from "../deadline/deadline";
import type { Deps } from "../deps-type";
import { admitDue } from "../services/waiting-room/admit";
import { logJobFailure } from "./failures";

/**
 * Every second: writes waiting rooms' admissions on their tickets, runs a due draw, and keeps
 * the line metrics. Every process runs it; SKIP LOCKED makes them share rather than queue.
 */
export function startAdmission(deps: Deps): Cron {
  return new Cron(
    "* * * * * *",
    {
      name: "admission",
      protect: true,
      catch: (err) => logJobFailure(deps, "admission", err),
    },
    async () => {
      const deadline = Deadline.start(deps.config.REQUEST_TIMEOUT_MS);
      try {
        await admitDue(deps, deadline);
      } finally {
        deadline.clear();
      }
    },
  );
}
