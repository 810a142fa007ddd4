// Jails on Linux. A vnet jail is a named network namespace (/run/netns/NAME). A child
// jail (`parent.child`, ip4=inherit) is a holder process in its top ancestor's netns
// with its own pid and UTS namespaces: everything run in the child lives in that pid
// namespace, so killing the holder takes all of it away, as `jail -r` does. Holders are
// recorded under the run directory, which like jails does not survive a reboot.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { processAlive } from '../../util/process.js';

export const NETNS_DIR = '/run/netns';

const HolderSchema = z.object({
  name: z.string(),
  /** The `unshare` process; its child is the pid namespace's init. */
  pid: z.number().int(),
  init: z.number().int(),
  path: z.string(),
  hostname: z.string(),
});

export type Holder = z.infer<typeof HolderSchema>;

export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAILNET_RUN_DIR || '/run/jailnet';
}

/** The netns a jail's network lives in: its top ancestor's (children inherit the vnet). */
export function netnsPathOf(jail: string): string {
  if (jail.startsWith('/')) return jail;
  return path.join(NETNS_DIR, jail.split('.')[0] as string);
}

export class HolderRegistry {
  constructor(private readonly dir: string) {}

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  async write(holder: Holder): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temp = `${this.file(holder.name)}~${process.pid}`;
    await fs.writeFile(temp, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
    await fs.rename(temp, this.file(holder.name));
  }

  async remove(name: string): Promise<void> {
    await fs.rm(this.file(name), { force: true });
  }

  /** Holders whose process still runs. */
  async live(): Promise<Holder[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const holders: Holder[] = [];
    for (const name of names.filter((n) => !n.includes('~'))) {
      try {
        const holder = HolderSchema.parse(JSON.parse(await fs.readFile(this.file(name), 'utf8')));
        if (processAlive(holder.pid)) holders.push(holder);
      } catch {
        // a record being replaced, or garbage: not a jail
      }
    }
    return holders;
  }

  async find(name: string): Promise<Holder | undefined> {
    return (await this.live()).find((h) => h.name === name);
  }
}

/** The pid namespace's init: the holder's only child, once it has forked. */
export async function initOf(pid: number): Promise<number | undefined> {
  try {
    const children = (await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/).filter(Boolean);
    return children.length > 0 ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}
