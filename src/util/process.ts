import { readFileSync } from 'node:fs';

/**
 * Whether a process exists (EPERM means it does, owned by someone else). A zombie does not
 * count: it has exited and waits only for its parent (or an init that does not reap it) to
 * collect it; Linux's /proc says so (state Z), and where there is no /proc it is taken as alive.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
