// After a pod's DEL chains and `jail -r`, nothing of it may remain: its host epair ends,
// leases, published ports, masqueraded addresses and result-cache files are looked for,
// removed if found, and reported.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LeaseStore } from '../ipam/store.js';
import { defaultIpamDataDir } from '../platform.js';
import { hostInterfaceName } from '../persistent-names.js';
import type { PodContext } from './pods.js';
import type { PodRecord } from './store.js';

export async function cleanLeftovers(ctx: PodContext, record: PodRecord): Promise<string[]> {
  const cleaned: string[] = [];
  const attempt = async (what: string, work: () => Promise<boolean>) => {
    try {
      if (await work()) cleaned.push(what);
    } catch (error) {
      cleaned.push(`${what} (could not clean: ${(error as Error).message})`);
    }
  };
  for (const network of record.networks) {
    const list = await ctx.network(network.name).catch(() => undefined);
    const hostEnd = hostInterfaceName(network.name, record.containerId, network.ifname);
    await attempt(`interface ${hostEnd}`, async () => {
      if (!(await ctx.host.inspectInterface(hostEnd))) return false;
      await ctx.host.destroyInterface(hostEnd);
      return true;
    });
    await attempt(`published ports of ${network.ifname}`, async () => {
      const owner = { containerId: record.containerId, ifname: network.ifname };
      if ((await ctx.host.filter.publishedPorts(owner)).length === 0) return false;
      await ctx.host.filter.unpublishPorts(owner, []);
      return true;
    });
    const result = network.result as { ips?: Array<{ address: string }> } | undefined;
    const addresses = (result?.ips ?? []).map((ip) => ip.address.split('/')[0] as string);
    // Leftovers are looked for before anything is removed: a clean pod costs reads only.
    await attempt(`masquerading of ${addresses.join(' ')}`, async () => {
      const left = (await ctx.host.filter.masqueraded()).filter((a) => addresses.includes(a));
      return left.length > 0 && (await ctx.host.filter.unmasquerade(left)) > 0;
    });
    const ipam = (list?.plugins.find((p) => p.type === 'bridge') as { ipam?: { dataDir?: string } } | undefined)?.ipam;
    await attempt(`leases of ${network.name}/${network.ifname}`, async () => {
      const store = await LeaseStore.open(ipam?.dataDir ?? defaultIpamDataDir(), network.name);
      return (await store.locked(() => store.releaseAttachment(record.containerId, network.ifname))) > 0;
    });
    const cacheFile = ctx.runner.cacheFile({ network: network.name, containerId: record.containerId, ifname: network.ifname });
    await attempt(`cache file ${path.basename(cacheFile)}`, async () => {
      try {
        await fs.rm(cacheFile);
        return true;
      } catch {
        return false;
      }
    });
  }
  return cleaned;
}

