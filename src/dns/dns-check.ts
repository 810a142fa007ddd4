// `jailnet status`'s lines on container names for podman's CNI backend: said only where a
// network asks for them (its list holds the dnsname plugin). A failure when aardvark-dns is
// missing (with the install line of the system) or is not running while containers have
// names in its files; an `ok` line naming what it serves otherwise.
import type { Host, ReadinessCheck } from '../hosts/host.js';
import { cniAardvarkDir } from '../persistent-names.js';
import { aardvarkBinaries } from '../platform.js';
import { existsSync } from 'node:fs';
import { aardvarkPid, networkFiles } from './aardvark.js';

const INSTALL: Record<Host['kind'], string> = {
  freebsd: 'pkg install aardvark-dns',
  linux: 'apt install aardvark-dns',
};

export async function dnsChecks(kind: Host['kind'], lists: Array<{ name: string; plugins: Array<{ type?: unknown }> }>, env: NodeJS.ProcessEnv, binaries = aardvarkBinaries(env)): Promise<ReadinessCheck[]> {
  const named = lists.filter((l) => l.plugins.some((p) => p.type === 'dnsname')).map((l) => l.name);
  if (named.length === 0) return [];
  const networks = `network${named.length > 1 ? 's' : ''} ${named.join(', ')}`;
  if (!binaries.some((b) => existsSync(b))) {
    return [{ name: `${networks} ask for container names (dnsname) but aardvark-dns is missing (${binaries.join(', ')})`, ok: false, fix: INSTALL[kind] }];
  }
  const dir = cniAardvarkDir(env);
  const files = await networkFiles(dir);
  const pid = await aardvarkPid(dir);
  if (files.length > 0 && pid === undefined) {
    return [{ name: `aardvark-dns is not running while containers have names on ${files.join(', ')}`, ok: false, fix: 'podman network reload --all (each container ADD starts it again)' }];
  }
  const serving = pid === undefined ? 'no container has a name yet' : `aardvark-dns (pid ${pid}) serves ${files.join(', ')}`;
  return [{ name: `container names for ${networks}: ${serving}`, ok: true }];
}
