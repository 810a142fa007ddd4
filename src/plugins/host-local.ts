// The host-local IPAM plugin: leases addresses from configured ranges into a shared
// on-disk store, compatible with the reference plugin's.
import { CniError, ErrorCode } from '../cni/errors.js';
import type { IPConfig, Result } from '../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../cni/skel.js';
import { allocate } from '../ipam/allocator.js';
import { loadHostLocalConfig, type HostLocalConfig } from '../ipam/config.js';
import { formatIP, ipEqual, type IP } from '../ipam/ip.js';
import { rangeContains, type RangeSet } from '../ipam/range.js';
import { readResolvConf } from '../ipam/resolvconf.js';
import { LeaseStore } from '../ipam/store.js';

function takeRequestedFor(set: RangeSet, requested: IP[]): IP | undefined {
  const index = requested.findIndex((ip) => set.some((range) => rangeContains(range, ip)));
  return index < 0 ? undefined : requested.splice(index, 1)[0];
}

async function allocateAll(store: LeaseStore, config: HostLocalConfig, attachment: { containerId: string; ifname: string }) {
  const requested = [...config.requestedIPs];
  const ips: IPConfig[] = [];
  const allocated: IP[] = [];
  try {
    for (const [index, set] of config.rangeSets.entries()) {
      const wanted = takeRequestedFor(set, requested);
      try {
        const allocation = await allocate(store, set, index, attachment, wanted);
        ips.push(allocation.config);
        allocated.push(allocation.ip);
      } catch (error) {
        if (error instanceof CniError) {
          throw new CniError(error.code, `failed to allocate for range ${index}: ${error.message}`, error.details);
        }
        throw error;
      }
    }
    if (requested.length > 0) {
      throw new CniError(
        ErrorCode.AddressUnavailable,
        `failed to allocate all requested IPs: ${requested.map(formatIP).join(' ')}`,
      );
    }
    return ips;
  } catch (error) {
    // Only what this call leased is given back: an earlier ADD's leases stay.
    for (const ip of allocated) await store.release(ip);
    throw error;
  }
}

function attachmentOf(request: PluginRequest) {
  return { containerId: request.containerId, ifname: request.ifname };
}

function capacity(set: RangeSet): bigint {
  return set.reduce((sum, range) => {
    const size = range.rangeEnd.value - range.rangeStart.value + 1n;
    return sum + size - (rangeContains(range, range.gateway) ? 1n : 0n);
  }, 0n);
}

export const hostLocal: Plugin = {
  async add(request): Promise<Result> {
    const config = loadHostLocalConfig(request.config, request.args);
    // Read before allocating, so a missing resolv.conf leaves no lease behind.
    const dns = config.resolvConf ? await readResolvConfOrFail(config.resolvConf) : {};
    const store = await LeaseStore.open(config.dataDir, config.network);
    const ips = await store.locked(() => allocateAll(store, config, attachmentOf(request)));
    return { interfaces: [], ips, routes: config.routes.map((r) => ({ ...r })), dns };
  },

  async del(request) {
    const config = loadHostLocalConfig(request.config, request.args);
    const store = await LeaseStore.open(config.dataDir, config.network);
    await store.locked(() => store.releaseAttachment(request.containerId, request.ifname));
  },

  async check(request) {
    const config = loadHostLocalConfig(request.config, request.args);
    const store = await LeaseStore.open(config.dataDir, config.network);
    const held = await store.locked(() => store.byAttachment(request.containerId, request.ifname));
    if (held.length === 0) {
      throw new CniError(ErrorCode.LeaseNotFound, `host-local: Failed to find address added by container ${request.containerId}`);
    }
  },

  async gc(request, valid: Attachment[]) {
    const config = loadHostLocalConfig(request.config, request.args);
    const store = await LeaseStore.open(config.dataDir, config.network);
    const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`));
    await store.locked(async () => {
      for (const lease of await store.leases()) {
        if (!keep.has(`${lease.containerId}\n${lease.ifname}`)) await store.release(lease.ip);
      }
    });
  },

  async status(request) {
    let config: HostLocalConfig;
    try {
      config = loadHostLocalConfig(request.config, request.args);
    } catch (error) {
      throw new CniError(ErrorCode.NotAvailable, 'host-local is not available: invalid configuration', (error as Error).message);
    }
    let store: LeaseStore;
    try {
      store = await LeaseStore.open(config.dataDir, config.network);
    } catch (error) {
      throw new CniError(ErrorCode.NotAvailable, `host-local is not available: cannot open ${config.dataDir}`, (error as Error).message);
    }
    const leases = await store.leases();
    for (const [index, set] of config.rangeSets.entries()) {
      const used = leases.filter((l) => set.some((r) => rangeContains(r, l.ip) && !ipEqual(l.ip, r.gateway))).length;
      if (BigInt(used) >= capacity(set)) {
        throw new CniError(ErrorCode.NotAvailable, `host-local is not available: range set ${index} has no free address`);
      }
    }
  },
};

async function readResolvConfOrFail(file: string) {
  try {
    return await readResolvConf(file);
  } catch (error) {
    throw new CniError(ErrorCode.IOFailure, `failed to read resolvConf ${file}`, (error as Error).message);
  }
}
