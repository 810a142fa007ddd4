// Jails on Linux. A vnet jail is a named network namespace (/run/netns/NAME). A child
// jail (`parent.child`, ip4=inherit) is a holder process in its top ancestor's netns
// with its own pid and UTS namespaces: everything run in the child lives in that pid
// namespace, so killing the holder takes all of it away, as `jail -r` does. Holders are
// recorded under the run directory, which like jails does not survive a reboot.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { JsonRecords } from '../../util/json-records.js';
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

/** Holder records (one JSON file per child jail), read back only while the holder runs. */
export class HolderRegistry {
  private readonly records: JsonRecords<Holder>;

  constructor(dir: string) {
    this.records = new JsonRecords(dir, HolderSchema);
  }

  write(holder: Holder): Promise<void> {
    return this.records.write(holder.name, holder);
  }

  remove(name: string): Promise<void> {
    return this.records.remove(name);
  }

  /** Holders whose process still runs. */
  async live(): Promise<Holder[]> {
    return (await this.records.all()).filter((holder) => processAlive(holder.pid));
  }

  async find(name: string): Promise<Holder | undefined> {
    const holder = await this.records.read(name);
    return holder && processAlive(holder.pid) ? holder : undefined;
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
