// `jailnet status`'s lines on container names for podman's CNI backend: said only where a
// network asks for them (its list holds the dnsname plugin). A failure when aardvark-dns is
// missing (with the install line of the system); an `ok` line naming what it serves
// otherwise. An aardvark-dns that is not running while containers have names in its files
// is drift (repair/audit.ts), which `jailnet repair` and netmon mend by starting it.
import type { ExecDoor } from '../hosts/exec.js';
import type { Host, ReadinessCheck } from '../hosts/host.js';
import { cniAardvarkDir } from '../persistent-names.js';
import { aardvarkBinaries } from '../platform.js';
import { existsSync } from 'node:fs';
import { aardvarkPid, DnsError, networkFiles, reloadAardvark } from './aardvark.js';

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
  // Not running while names are recorded: the drift lines say it, with jailnet repair as the fix.
  if (files.length > 0 && pid === undefined) return [];
  const serving = pid === undefined ? 'no container has a name yet' : `aardvark-dns (pid ${pid}) serves ${files.join(', ')}`;
  return [{ name: `container names for ${networks}: ${serving}`, ok: true }];
}

/** The names that are recorded but not served: aardvark-dns not running while its directory holds network files. */
export async function unservedNames(dir: string): Promise<string[]> {
  const files = await networkFiles(dir);
  return files.length > 0 && (await aardvarkPid(dir)) === undefined ? files : [];
}

/** Starts aardvark-dns on the directory's files again (the first of `binaries` that exists). */
export async function restartAardvark(door: ExecDoor, dir: string, binaries: string[]): Promise<void> {
  const binary = binaries.find((b) => existsSync(b));
  if (!binary) throw new DnsError(`aardvark-dns is missing (${binaries.join(', ')})`);
  await reloadAardvark(door, { dir, binary, port: 53 }, true);
}
