// A cross-process lock for short critical sections, built on O_EXCL because Node has
// no flock(2). The holder writes its pid into the owner file; a holder found dead (or an
// owner file older than any critical section can last) is taken over, so a crashed
// plugin never blocks a network forever.
//
// Waits are fair: a waiter takes a ticket in `<owner>.q/`, named by the monotonic clock,
// and only the oldest live ticket may take the owner file. Without it, a hundred plugins
// polling one lock starve each other at random. Waits are bounded by the caller's
// deadline (util/deadline), so a call never outlives the time its runtime gives it.
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitBudget } from './deadline.js';
import { processAlive } from './process.js';

export interface LockOptions {
  /** How long to wait for the lock before giving up (default: what the call's deadline leaves). */
  timeoutMs?: number;
  /** An owner file older than this is stale even if its pid is alive (pid reuse). */
  staleMs?: number;
}

export class LockTimeoutError extends Error {
  constructor(readonly path: string, waitedMs: number) {
    super(`timed out after ${waitedMs} ms waiting for lock ${path}`);
    this.name = 'LockTimeoutError';
  }
}

/** Without a deadline from the caller, no wait for a lock lasts longer than this. */
export const DEFAULT_LOCK_WAIT_MS = 120_000;

async function tryCreateOwner(ownerPath: string): Promise<boolean> {
  try {
    const handle = await fs.open(ownerPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(`${process.pid}\n`);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

interface OwnerInfo {
  pid: number | undefined;
  ageMs: number;
}

async function readOwner(ownerPath: string): Promise<OwnerInfo | undefined> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(ownerPath, 'utf8'), fs.stat(ownerPath)]);
    const pid = /^\d+\n$/.test(text) ? Number(text.trim()) : undefined;
    return { pid, ageMs: Date.now() - stat.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function isStale(owner: OwnerInfo, staleMs: number): boolean {
  if (owner.ageMs > staleMs) return true;
  // An owner file without a pid is being written; give its writer a moment.
  if (owner.pid === undefined) return owner.ageMs > 1000;
  return !processAlive(owner.pid);
}

/** Removes a stale owner file, guarded so two waiters never both remove (one removing a fresh lock). */
async function breakStaleLock(ownerPath: string, seen: OwnerInfo, staleMs: number): Promise<boolean> {
  const guard = `${ownerPath}.break`;
  try {
    await fs.mkdir(guard);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const stat = await fs.stat(guard).catch(() => undefined);
    // A breaker that died inside this short section leaves its guard behind.
    if (stat && Date.now() - stat.mtimeMs > 5000) await fs.rmdir(guard).catch(() => undefined);
    return false;
  }
  try {
    const now = await readOwner(ownerPath);
    if (now && now.pid === seen.pid && isStale(now, staleMs)) await fs.rm(ownerPath, { force: true });
    return true;
  } finally {
    await fs.rmdir(guard).catch(() => undefined);
  }
}

let ticketCounter = 0;

/** The queue of waiters, oldest first: `<monotonic ns>-<pid>-<n>`. */
class TicketQueue {
  readonly dir: string;
  private ticket = '';

  constructor(ownerPath: string) {
    this.dir = `${ownerPath}.q`;
  }

  async enqueue(): Promise<void> {
    const name = `${process.hrtime.bigint().toString().padStart(20, '0')}-${process.pid}-${ticketCounter++}`;
    // Bounded: the directory may vanish between mkdir and open when the last waiter leaves.
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
        await (await fs.open(path.join(this.dir, name), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)).close();
        this.ticket = name;
        return;
      } catch (error) {
        // The last waiter removed the directory between our mkdir (or its EEXIST check) and open.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    throw new Error(`could not queue for lock ${this.dir}`);
  }

  /** How many live waiters are ahead of this one; dead ones at the head are removed. */
  async position(): Promise<number> {
    const tickets = (await fs.readdir(this.dir).catch(() => [] as string[])).sort();
    for (const head of tickets) {
      if (head === this.ticket) return 0;
      const pid = Number(head.split('-')[1]);
      if (processAlive(pid)) break;
      await fs.rm(path.join(this.dir, head), { force: true });
    }
    const index = tickets.indexOf(this.ticket);
    return index < 0 ? 0 : index;
  }

  async leave(): Promise<void> {
    if (this.ticket) await fs.rm(path.join(this.dir, this.ticket), { force: true });
    this.ticket = '';
    // The last one out removes the queue, so a lock leaves nothing behind; a newcomer's ticket keeps it.
    await fs.rmdir(this.dir).catch(() => undefined);
  }
}

/**
 * What a dead process left of a lock: its owner file, its tickets, a breaker's guard.
 * With `remove`, they are removed (a live holder's or waiter's never are).
 */
export async function staleLockFiles(ownerPath: string, remove: boolean, staleMs = 60_000): Promise<string[]> {
  const found: string[] = [];
  const owner = await readOwner(ownerPath);
  if (owner && isStale(owner, staleMs)) {
    found.push(ownerPath);
    if (remove) await breakStaleLock(ownerPath, owner, staleMs);
  }
  const queue = `${ownerPath}.q`;
  for (const ticket of await fs.readdir(queue).catch(() => [] as string[])) {
    if (processAlive(Number(ticket.split('-')[1]))) continue;
    found.push(path.join(queue, ticket));
    if (remove) await fs.rm(path.join(queue, ticket), { force: true });
  }
  if (remove) await fs.rmdir(queue).catch(() => undefined);
  return found;
}

/** Whether a live process holds the lock now (read-only: nothing is created). */
export async function lockHeld(ownerPath: string, staleMs = 60_000): Promise<boolean> {
  const owner = await readOwner(ownerPath);
  return owner !== undefined && !isStale(owner, staleMs);
}

/**
 * Takes the lock only if it is free now, without queueing: for work that any one
 * process may do for all (setting a bridge up), whose waiters would rather look again
 * once it is done than each take a turn. Returns the release, or undefined.
 */
export async function tryLock(ownerPath: string, staleMs = 60_000): Promise<(() => Promise<void>) | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await tryCreateOwner(ownerPath)) return () => fs.rm(ownerPath, { force: true });
    const owner = await readOwner(ownerPath);
    if (owner && !(isStale(owner, staleMs) && (await breakStaleLock(ownerPath, owner, staleMs)))) return undefined;
  }
  return undefined;
}

export async function acquireLock(ownerPath: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = options.timeoutMs ?? waitBudget(DEFAULT_LOCK_WAIT_MS);
  const staleMs = options.staleMs ?? 60_000;
  const started = Date.now();
  const queue = new TicketQueue(ownerPath);
  await queue.enqueue();
  try {
    for (;;) {
      const ahead = await queue.position();
      if (ahead === 0) {
        if (await tryCreateOwner(ownerPath)) break;
        const owner = await readOwner(ownerPath);
        if (!owner) continue; // released between our two looks
        if (isStale(owner, staleMs) && (await breakStaleLock(ownerPath, owner, staleMs))) continue;
      }
      if (Date.now() - started > timeoutMs) throw new LockTimeoutError(ownerPath, Date.now() - started);
      // The next in line polls often; those further back less, so a long queue costs little
      // (a hundred waiters polling every few ms starve the holder of the CPU it needs).
      await sleep(Math.min(1 + ahead * 4, 200) * (1 + Math.random() * 0.5));
    }
  } finally {
    await queue.leave();
  }
  return async () => {
    await fs.rm(ownerPath, { force: true });
  };
}

export async function withLock<T>(ownerPath: string, work: () => Promise<T>, options?: LockOptions): Promise<T> {
  const release = await acquireLock(ownerPath, options);
  try {
    return await work();
  } finally {
    await release();
  }
}
