/**
 * Reads until `ready` takes what was read, at most `tries` times `everyMs` apart, and returns the
 * last read either way, so the test's own assertion says what was wrong. Bounded by tries, not by
 * a clock, so a loaded machine only slows it. With `orThrow`, giving up throws instead.
 */
export async function until<T>(
  read: () => T | Promise<T>,
  ready: (value: T) => boolean = Boolean,
  {
    tries = 300,
    everyMs = 50,
    orThrow,
  }: { tries?: number; everyMs?: number; orThrow?: string } = {},
): Promise<T> {
  let value = await read();
  for (let i = 1; i < tries && !ready(value); i++) {
    await Bun.sleep(everyMs);
    value = await read();
  }
  if (orThrow !== undefined && !ready(value)) throw new Error(`gave up waiting for ${orThrow}`);
  return value;
}
