// jailnetd's pidfile (`jailnet daemon --pidfile`): the autostart's lock while the daemon
// starts, and its record while it runs, so that an admin, rc.d/jailnetd and `jailnet status`
// can find a daemon nobody started by hand.
import { promises as fs } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-file.js';
import { processAlive } from '../util/process.js';

/** The live process a pidfile names, or undefined (no file, no number, or a process gone). */
export async function livePid(file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 && processAlive(pid) ? pid : undefined;
}

/** Creates the file only when it does not exist: true when this caller holds it now. */
export async function claimPidFile(file: string, pid: number | string): Promise<boolean> {
  try {
    await fs.writeFile(file, `${pid}\n`, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** Replaces the file at once (a reader never sees it empty): the starter's pid by the daemon's. */
export async function writePidFile(file: string, pid = process.pid): Promise<void> {
  await writeFileAtomic(file, `${pid}\n`, { mode: 0o600, sync: false });
}

/** Removes the file if it still names this process (a successor's file stays). */
export async function removeOwnPidFile(file: string, pid = process.pid): Promise<void> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  if (Number(text.trim()) === pid) await fs.rm(file, { force: true });
}
