// libcni's result cache (cniCacheV1): one JSON file per attachment under
// <cacheDir>/results/<network>-<containerID>-<ifname>, so a DEL, a CHECK or a GC
// after a restart still knows what ADD produced.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic-file.js';
import { unlessPlanning, type ChangePlan } from '../util/change-plan.js';
import type { CniArgs } from './args.js';

const CacheSchema = z.looseObject({
  kind: z.literal('cniCacheV1'),
  containerId: z.string(),
  config: z.string().optional(),
  ifName: z.string(),
  networkName: z.string(),
  netns: z.string().nullable().optional(),
  cniArgs: z.array(z.tuple([z.string(), z.string()])).nullable().optional(),
  capabilityArgs: z.record(z.string(), z.unknown()).nullable().optional(),
  result: z.unknown().optional(),
});

export type CacheEntry = z.infer<typeof CacheSchema>;

export interface AttachmentKey {
  network: string;
  containerId: string;
  ifname: string;
}

/** With a planning ChangePlan (--dry-run), writes and removals are recorded, not made. */
export class ResultCache {
  constructor(
    readonly cacheDir: string,
    private readonly plan?: ChangePlan,
  ) {}

  private get resultsDir(): string {
    return path.join(this.cacheDir, 'results');
  }

  file(key: AttachmentKey): string {
    return path.join(this.resultsDir, `${key.network}-${key.containerId}-${key.ifname}`);
  }

  async write(
    key: AttachmentKey,
    entry: { config: Buffer; netns: string; cniArgs: CniArgs; capabilityArgs: Record<string, unknown>; result: unknown },
  ): Promise<void> {
    const body: CacheEntry = {
      kind: 'cniCacheV1',
      containerId: key.containerId,
      config: entry.config.toString('base64'),
      ifName: key.ifname,
      networkName: key.network,
      netns: entry.netns,
      cniArgs: entry.cniArgs.map(([k, v]) => [k, v] as [string, string]),
      capabilityArgs: entry.capabilityArgs,
      result: entry.result,
    };
    await unlessPlanning(this.plan, 'write', this.file(key), () => writeFileAtomic(this.file(key), JSON.stringify(body)));
  }

  async read(key: AttachmentKey): Promise<CacheEntry | undefined> {
    return this.readFile(this.file(key));
  }

  private async readFile(file: string): Promise<CacheEntry | undefined> {
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const parsed = CacheSchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async remove(key: AttachmentKey): Promise<void> {
    const file = this.file(key);
    // Removing what is not there changes nothing, so neither a plan nor a journal shows it.
    if (!existsSync(file)) return;
    await unlessPlanning(this.plan, 'remove', file, () => fs.rm(file, { force: true }));
  }

  /** Every cached attachment of a network. */
  async attachments(network: string): Promise<CacheEntry[]> {
    return (await this.all(`${network}-`)).filter((entry) => entry.networkName === network);
  }

  /** Every cached attachment (whose file name starts with `prefix`). */
  async all(prefix = ''): Promise<CacheEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.resultsDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const entries: CacheEntry[] = [];
    for (const name of names.filter((n) => n.startsWith(prefix) && !n.includes('.tmp-'))) {
      const entry = await this.readFile(path.join(this.resultsDir, name));
      if (entry) entries.push(entry);
    }
    return entries;
  }
}
