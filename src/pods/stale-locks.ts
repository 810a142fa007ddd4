// Locks a crashed process left behind: owner files whose pid is dead and queue tickets
// of dead waiters, under jailnet's state dir and in the lease directories of the
// networks it knows. They block nobody (the next waiter breaks them), but gc leaves a
// host as it found it.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { listNetworks } from '../cni/conflist.js';
import { LOCK_OWNER_FILE } from '../ipam/store.js';
import { defaultIpamDataDir } from '../platform.js';
import { staleLockFiles } from '../util/file-lock.js';

/** Lock owner paths: `*.lock` files (records), `lock.owner` (leases), the bridge locks. */
function isLockOwner(dir: string, name: string): boolean {
  return name.endsWith('.lock') || name === LOCK_OWNER_FILE || path.basename(dir) === 'locks';
}

async function lockOwnersBelow(dir: string, depth = 3): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  const owners = new Set<string>();
  for (const entry of entries) {
    const file = path.join(dir, entry.name);
    // A queue (`X.q`) or a breaker's guard (`X.break`) without its owner file still names the lock.
    const named = entry.name.replace(/\.(q|break)$/, '');
    if (named !== entry.name && entry.isDirectory()) owners.add(path.join(dir, named));
    else if (entry.isFile() && isLockOwner(dir, entry.name)) owners.add(file);
    else if (entry.isDirectory() && depth > 0) for (const below of await lockOwnersBelow(file, depth - 1)) owners.add(below);
  }
  return [...owners];
}

/** The lease directories of the networks in the CNI config dir that use host-local. */
async function leaseDirs(cniConfigDir: string): Promise<string[]> {
  const { lists } = await listNetworks(cniConfigDir);
  return lists.flatMap((list) =>
    list.plugins
      .map((p) => p.ipam as { type?: string; dataDir?: string } | undefined)
      .filter((ipam) => ipam?.type === 'host-local')
      .map((ipam) => path.join(ipam?.dataDir ?? defaultIpamDataDir(), list.name)),
  );
}

/** Finds (and unless planning, removes) what dead processes left of jailnet's locks. */
export async function sweepStaleLocks(stateDir: string, cniConfigDir: string, remove: boolean): Promise<string[]> {
  const owners = [...(await lockOwnersBelow(stateDir)), ...(await Promise.all((await leaseDirs(cniConfigDir)).map((d) => lockOwnersBelow(d, 0)))).flat()];
  const found: string[] = [];
  for (const owner of owners) found.push(...(await staleLockFiles(owner, remove)));
  return found;
}
