// `jailnet status`'s lines on container names for podman's CNI backend: said only where a
// network asks for them (its list holds the dnsname plugin). A failure when aardvark-dns is
// missing (with the install line of the system); an `ok` line naming what it serves
// otherwise. An aardvark-dns that is not running while containers have names in its files
// is drift (repair/audit.ts), which `jailnet repair` and netmon mend by starting it; so is a
// name whose container jailnet has no attachment for (a runtime that never called DEL): it
// would answer with an address the next container may get, and repair takes it out.
import type { ExecDoor } from '../hosts/exec.js';
import type { Host, ReadinessCheck } from '../hosts/host.js';
import { cniAardvarkDir } from '../persistent-names.js';
import { aardvarkBinaries } from '../platform.js';
import { existsSync } from 'node:fs';
import { bridgeRecords } from '../plugins/attachment-record.js';
import { aardvarkPid, DnsError, editFiles, entriesByFile, keepingEntries, networkFiles, networkOfFile, reloadAardvark } from './aardvark.js';

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

/** A name in aardvark's files whose container has no attachment in jailnet's records. */
export interface StaleName {
  /** The network file it is in (an internal network's keeps its `%int`). */
  file: string;
  containerId: string;
  names: string[];
}

/** The attachments the bridge plugin has records of, as `network\ncontainer ID` (lower case, as aardvark's files have it). */
async function attachedContainers(attachmentsDir: string): Promise<Set<string>> {
  return new Set((await bridgeRecords(attachmentsDir).all()).map((r) => `${r.network}\n${r.containerId.toLowerCase()}`));
}

const attachedTo = (attached: Set<string>, file: string, containerId: string) => attached.has(`${networkOfFile(file)}\n${containerId}`);

/**
 * The names of containers without an attachment. The files are read first and the records
 * after: an ADD records its attachment before it writes the name, and a DEL takes the name
 * before the record, so a call under way is never taken for a leak.
 */
export async function staleNames(dir: string, attachmentsDir: string): Promise<StaleName[]> {
  const files = await entriesByFile(dir);
  if (files.every((f) => f.entries.length === 0)) return [];
  const attached = await attachedContainers(attachmentsDir);
  return files.flatMap(({ file, entries }) => entries.filter((e) => !attachedTo(attached, file, e.containerId)).map((e) => ({ file, containerId: e.containerId, names: e.names })));
}

/**
 * Takes stale names out, each only if its container still has no attachment once the
 * files' lock is held (a container started again under the same ID keeps its name), then
 * one reload of aardvark.
 */
export async function dropStaleNames(door: ExecDoor, dir: string, stale: StaleName[], attachmentsDir: string, binaries: string[]): Promise<void> {
  const changed = await editFiles(dir, [...new Set(stale.map((s) => s.file))], async (file, text) => {
    if (text === undefined) return undefined;
    const attached = await attachedContainers(attachmentsDir);
    const gone = new Set(stale.filter((s) => s.file === file && !attachedTo(attached, file, s.containerId)).map((s) => s.containerId));
    return keepingEntries(text, (id) => !gone.has(id));
  });
  const binary = binaries.find((b) => existsSync(b));
  if (changed && binary) await reloadAardvark(door, { dir, binary, port: 53 }, false);
}
