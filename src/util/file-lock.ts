// A cross-process lock for short critical sections, built on O_EXCL because Node has
// no flock(2). The holder writes its pid into the owner file; a waiter that finds the
// holder dead (or the owner file older than any critical section can last) takes the
// lock over, one waiter at a time, so a crashed plugin never blocks a network forever.
import { constants, promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from './process.js';

export interface LockOptions {
  /** How long to wait for the lock before giving up. */
  timeoutMs?: number;
  /** An owner file older than this is stale even if its pid is alive (pid reuse). */
  staleMs?: number;
}

export class LockTimeoutError extends Error {
  constructor(readonly path: string) {
    super(`timed out waiting for lock ${path}`);
    this.name = 'LockTimeoutError';
  }
}

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

export async function acquireLock(ownerPath: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let pause = 2;
  for (;;) {
    if (await tryCreateOwner(ownerPath)) {
      return async () => {
        await fs.rm(ownerPath, { force: true });
      };
    }
    const owner = await readOwner(ownerPath);
    if (!owner) continue; // released between our two looks
    if (isStale(owner, staleMs) && (await breakStaleLock(ownerPath, owner, staleMs))) continue;
    if (Date.now() > deadline) throw new LockTimeoutError(ownerPath);
    await sleep(pause + Math.random() * pause);
    pause = Math.min(pause * 2, 50);
  }
}

export async function withLock<T>(ownerPath: string, work: () => Promise<T>, options?: LockOptions): Promise<T> {
  const release = await acquireLock(ownerPath, options);
  try {
    return await work();
  } finally {
    await release();
  }
}
