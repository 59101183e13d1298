import { expect, test } from "bun:test";
import { Deadline } from "../src/deadline/deadline";
import { until } from "./helpers/until";

test("armed deadlines abandon in the order they fall due, whatever order they were armed in", async () => {
  const fired: string[] = [];
  const arm = (name: string, ms: number) => {
    const deadline = Deadline.start(ms);
    deadline.onAbandon(() => fired.push(name));
    return deadline;
  };
  arm("long", 120);
  arm("short", 20);
  const cleared = arm("cleared", 40);
  arm("middle", 60);
  cleared.clear();
  const committing = arm("committing", 30);
  expect(committing.beginCommit()).toBe(true);
  await until(() => fired.includes("long"), Boolean, { tries: 500, everyMs: 10 });
  expect(fired).toEqual(["short", "middle", "long"]);
  expect(cleared.abandoned).toBe(false);
  // A commit under way is never given up on; once it fails past the deadline, it is.
  expect(committing.abandoned).toBe(false);
  committing.commitFailed();
  expect(fired).toEqual(["short", "middle", "long", "committing"]);
});

test("thousands of deadlines cleared out of order leave none behind to fire", async () => {
  let fired = 0;
  const deadlines = Array.from({ length: 5000 }, () => {
    const deadline = Deadline.start(30);
    deadline.onAbandon(() => fired++);
    return deadline;
  });
  for (const [i, deadline] of deadlines.entries()) if (i % 2 === 1) deadline.clear();
  for (const [i, deadline] of deadlines.entries()) if (i % 2 === 0) deadline.clear();
  const last = Deadline.start(40);
  await until(() => last.abandoned, Boolean, { tries: 500, everyMs: 10 });
  expect(last.abandoned).toBe(true);
  expect(fired).toBe(0);
});
