// Cleanups a resident process may put off: jailnetd keeps something that became unneeded
// (an emptied nft table) for a while, because the next call would otherwise make it again
// at once; a timer does the cleanup if nothing needs it by then, and the daemon does every
// pending one when it stops. A plugin in its own process never defers: it cleans up at once.

interface Pending {
  timer: NodeJS.Timeout;
  run: () => Promise<void>;
}

let enabled = false;
const pending = new Map<string, Pending>();

/** Called once by a resident process (jailnetd) before it serves. */
export function allowDeferredCleanups(allowed = true): void {
  enabled = allowed;
}

export function cleanupsMayWait(): boolean {
  return enabled;
}

/** Runs `run` after `ms` unless cancelled or replaced under the same key first. */
export function deferCleanup(key: string, ms: number, run: () => Promise<void>): void {
  cancelCleanup(key);
  const timer = setTimeout(() => {
    pending.delete(key);
    // A failed cleanup leaves the thing for the next change to clean up.
    run().catch(() => undefined);
  }, ms);
  // A pending cleanup never keeps the process alive by itself.
  timer.unref();
  pending.set(key, { timer, run });
}

export function cancelCleanup(key: string): void {
  const entry = pending.get(key);
  if (!entry) return;
  clearTimeout(entry.timer);
  pending.delete(key);
}

/** Every pending cleanup now (the daemon is stopping); the messages of those that failed. */
export async function runPendingCleanups(): Promise<string[]> {
  const entries = [...pending.values()];
  pending.clear();
  const failures: string[] = [];
  for (const entry of entries) {
    clearTimeout(entry.timer);
    await entry.run().catch((error: unknown) => failures.push(error instanceof Error ? error.message : String(error)));
  }
  return failures;
}
