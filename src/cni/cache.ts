// libcni's result cache (cniCacheV1): one JSON file per attachment under
// <cacheDir>/results/<network>-<containerID>-<ifname>, so a DEL, a CHECK or a GC
// after a restart still knows what ADD produced.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
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

export class ResultCache {
  constructor(readonly cacheDir: string) {}

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
    await fs.mkdir(this.resultsDir, { recursive: true, mode: 0o700 });
    const target = this.file(key);
    const temp = `${target}.tmp-${process.pid}`;
    const handle = await fs.open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(body));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
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
    await fs.rm(this.file(key), { force: true });
  }

  /** Every cached attachment of a network. */
  async attachments(network: string): Promise<CacheEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.resultsDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const entries: CacheEntry[] = [];
    for (const name of names.filter((n) => n.startsWith(`${network}-`) && !n.includes('.tmp-'))) {
      const entry = await this.readFile(path.join(this.resultsDir, name));
      if (entry && entry.networkName === network) entries.push(entry);
    }
    return entries;
  }
}
