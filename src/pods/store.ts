// Pod records in <state_dir>/pods/<name>.json: written atomically (temp file, fsync,
// rename) under a per-pod lock, read back by every command.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { withLock } from '../util/file-lock.js';

const PortSchema = z.object({ hostIP: z.string().optional(), hostPort: z.number(), containerPort: z.number(), protocol: z.enum(['tcp', 'udp', 'sctp']) });

const PodSchema = z.object({
  name: z.string(),
  /** The jail whose vnet the pod's containers share (for host mode: a jail without vnet). */
  jail: z.string(),
  mode: z.enum(['bridge', 'none', 'host', 'container']),
  /** For mode container: the pod whose vnet is shared. */
  sharesWith: z.string().optional(),
  /**
   * "creating" until every step succeeded (gc treats a creating pod whose creator died as
   * gone); "stopped" for a --restart always pod taken down by rc.d stop or found gone by gc.
   */
  state: z.enum(['creating', 'ready', 'removing', 'stopped']),
  creatorPid: z.number(),
  containerId: z.string(),
  networks: z.array(z.object({ name: z.string(), ifname: z.string(), result: z.unknown().optional() })),
  ports: z.array(PortSchema),
  ip: z.string().optional(),
  mac: z.string().optional(),
  restart: z.enum(['no', 'always']).default('no'),
  containers: z.array(z.object({ name: z.string(), jail: z.string(), path: z.string(), hostname: z.string() })),
});

export type PodRecord = z.infer<typeof PodSchema>;
export type PortMapping = z.infer<typeof PortSchema>;

export class PodStore {
  readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'pods');
  }

  private file(name: string): string {
    return path.join(this.dir, `${name}.json`);
  }

  async locked<T>(name: string, work: () => Promise<T>): Promise<T> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    return withLock(path.join(this.dir, `${name}.lock`), work);
  }

  async write(record: PodRecord): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.file(record.name);
    const temp = `${target}.tmp-${process.pid}`;
    const handle = await fs.open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(record, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
  }

  async read(name: string): Promise<PodRecord | undefined> {
    try {
      const parsed = PodSchema.safeParse(JSON.parse(await fs.readFile(this.file(name), 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async remove(name: string): Promise<void> {
    await fs.rm(this.file(name), { force: true });
  }

  async all(): Promise<PodRecord[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const out: PodRecord[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const record = await this.read(name.slice(0, -'.json'.length));
      if (record) out.push(record);
    }
    return out;
  }
}
