// Waiting for something a background process does (netmon, a daemon), bounded in time.

/** Polls `check` every 50 ms for up to `ms`; returns the time it took, or undefined when it never held. */
export async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}
