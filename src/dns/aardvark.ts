// Container names through aardvark-dns, the resolver podman users already rely on: its
// per-network files, and the process started or reloaded once per change (one SIGHUP for a
// whole setup, never one per entry). The file format and the start, reload and exit rules
// are aardvark's (netavark-contract.md §6, dns-and-overlay.md A.1): a first line with the
// listen addresses (the gateways) and the network's DNS servers, then one line a container:
// `id v4s v6s names[ servers]`. aardvark exits by itself once a reload leaves it no file.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { ExecDoor } from '../hosts/exec.js';
import { AARDVARK_LOCK, AARDVARK_OUTPUT } from '../persistent-names.js';
import { withLock } from '../util/file-lock.js';
import { processAlive } from '../util/process.js';
import { oneLine } from '../util/teardown.js';

/** The search domain aardvark answers under (`name.dns.podman`), as netavark returns it. */
export const DNS_SEARCH_DOMAIN = 'dns.podman';
/** A name aardvark's format can carry: no space, comma or newline (netavark's SafeString), no longer than a DNS label. */
const DNS_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,62})$/;

export interface AardvarkSite {
  /** `<netavark config dir>/aardvark-dns`. */
  dir: string;
  binary: string;
  port: number;
}

export interface DnsEntry {
  containerId: string;
  ipv4: string[];
  ipv6: string[];
  /** The container's name, then its aliases. */
  names: string[];
  /** The container's own servers (podman --dns), forwarded to for it alone. */
  servers: string[];
}

export interface NetworkDns {
  network: string;
  internal: boolean;
  /** The gateways: where aardvark listens and what containers are told to ask. */
  listen: string[];
  /** The network's DNS servers (network_dns_servers). */
  servers: string[];
}

export class DnsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsError';
  }
}

export function aardvarkDir(configDir: string): string {
  return path.join(configDir, 'aardvark-dns');
}

/** A name, an alias or a container ID refused before anything is written. */
export function checkDnsName(name: string, what: string): string {
  if (!DNS_NAME.test(name)) throw new DnsError(`invalid ${what} ${JSON.stringify(name.slice(0, 70))}: a DNS name of letters, digits, '_', '.' and '-', at most 63 characters`);
  return name.toLowerCase();
}

/** A server that is one of the gateways would have aardvark forward to itself without end. */
export function checkNoLoop(dns: NetworkDns, servers: string[]): void {
  const loop = [...dns.servers, ...servers].find((s) => dns.listen.includes(s));
  if (loop) throw new DnsError(`DNS server ${loop} is a gateway of network ${dns.network}: aardvark-dns would ask itself`);
}

/** aardvark names an internal network's file `<name>%int` since 1.11 (it then forwards nothing for it). */
export function networkFile(dns: NetworkDns, version: [number, number]): string {
  const internalSuffix = dns.internal && (version[0] > 1 || version[1] >= 11);
  return `${dns.network}${internalSuffix ? '%int' : ''}`;
}

export const headerLine = (dns: NetworkDns): string => [dns.listen.join(','), ...(dns.servers.length > 0 ? [dns.servers.join(',')] : [])].join(' ');

export const entryLine = (e: DnsEntry): string =>
  [e.containerId, e.ipv4.join(','), e.ipv6.join(','), e.names.join(','), ...(e.servers.length > 0 ? [e.servers.join(',')] : [])].join(' ');

/** The container ID an entry line begins with. */
const idOf = (line: string): string => line.split(' ')[0] as string;

/** The file with this container's line (replacing an earlier one); the header is the network's as it is now. */
export function withEntry(text: string | undefined, dns: NetworkDns, entry: DnsEntry): string {
  const lines = (text ?? '').split('\n').filter(Boolean).slice(1).filter((l) => idOf(l) !== entry.containerId);
  return [headerLine(dns), ...lines, entryLine(entry)].map((l) => `${l}\n`).join('');
}

/** The file with only the lines of containers `keep` takes; undefined when only the header would be left. */
export function keepingEntries(text: string, keep: (containerId: string) => boolean): string | undefined {
  const [header = '', ...lines] = text.split('\n').filter(Boolean);
  const kept = lines.filter((l) => keep(idOf(l)));
  return kept.length === 0 ? undefined : [header, ...kept].map((l) => `${l}\n`).join('');
}

const list = (column: string | undefined): string[] => (column ? column.split(',') : []);

/** A network file's entries as aardvark reads them (the servers column left out). */
export function entriesOf(text: string): Array<Omit<DnsEntry, 'servers'>> {
  return text
    .split('\n')
    .filter(Boolean)
    .slice(1)
    .map((line) => {
      const [containerId = '', ipv4, ipv6, names] = line.split(' ');
      return { containerId, ipv4: list(ipv4), ipv6: list(ipv6), names: list(names) };
    });
}

/** The container IDs that have a line in a network file's text. */
export const entryIds = (text: string): string[] => entriesOf(text).map((e) => e.containerId);

/** The file without this container's lines; undefined when only the header would be left. */
export const withoutEntry = (text: string, containerId: string): string | undefined => keepingEntries(text, (id) => id !== containerId);

/** `update`: the header's second column replaced by these servers (none: the column goes). */
export function withServers(text: string, servers: string[]): string {
  const [header = '', ...lines] = text.split('\n').filter(Boolean);
  const listen = header.split(' ')[0] ?? '';
  return [[listen, ...(servers.length > 0 ? [servers.join(',')] : [])].join(' '), ...lines].map((l) => `${l}\n`).join('');
}

const readText = (file: string) => fs.readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));

/**
 * Rewrites network files under the lock every writer of the directory takes; `change` gets
 * a file's text (undefined when absent) and returns the new text, undefined to delete it
 * (it may read what it decides by under the lock).
 * Returns whether any file changed.
 */
export async function editFiles(dir: string, files: string[], change: (file: string, text: string | undefined) => string | undefined | Promise<string | undefined>): Promise<boolean> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  return withLock(path.join(path.dirname(dir), AARDVARK_LOCK), async () => {
    let changed = false;
    for (const name of files) {
      const file = path.join(dir, name);
      const before = await readText(file);
      const after = await change(name, before);
      if (after === before) continue;
      changed = true;
      if (after === undefined) await fs.rm(file, { force: true });
      else await fs.writeFile(`${file}.tmp`, after).then(() => fs.rename(`${file}.tmp`, file));
    }
    return changed;
  });
}

/** Versions asked, by binary and its modification time: jailnetd asks each binary once until it is replaced. */
const versions = new Map<string, [number, number]>();

/** The version of the aardvark binary (`aardvark-dns 1.4.0`), which decides the file name of internal networks. */
export async function aardvarkVersion(door: ExecDoor, binary: string): Promise<[number, number]> {
  const key = `${binary}\n${(await fs.stat(binary)).mtimeMs}`;
  const known = versions.get(key);
  if (known) return known;
  const run = await door.runFile(binary, ['--version'], { reads: true, allowFailure: true });
  const found = /aardvark-dns (\d+)\.(\d+)/.exec(run.stdout);
  if (!found) throw new DnsError(`cannot tell the version of ${binary}: ${oneLine(run.stderr || run.stdout || `exit code ${run.exitCode}`)}`);
  const version: [number, number] = [Number(found[1]), Number(found[2])];
  versions.set(key, version);
  return version;
}

/** The pid in aardvark.pid of a directory, when that process is alive. */
export async function aardvarkPid(dir: string): Promise<number | undefined> {
  const pid = Number((await readText(path.join(dir, 'aardvark.pid')))?.trim());
  return Number.isInteger(pid) && pid > 1 && processAlive(pid) ? pid : undefined;
}

/** The network a file is of: an internal network's file has `%int` after its name (networkFile). */
export const networkOfFile = (file: string): string => file.replace(/%int$/, '');

/** Each network file of a directory with the entries it holds, as aardvark reads them. */
export async function entriesByFile(dir: string): Promise<Array<{ file: string; entries: Array<Omit<DnsEntry, 'servers'>> }>> {
  const found = [];
  for (const file of await networkFiles(dir)) {
    const text = await readText(path.join(dir, file));
    if (text !== undefined) found.push({ file, entries: entriesOf(text) });
  }
  return found;
}

/** What a directory's aardvark serves, by network: each container's entry as its file has it. */
export async function servedEntries(dir: string): Promise<Map<string, Array<Omit<DnsEntry, 'servers'>>>> {
  return new Map((await entriesByFile(dir)).map(({ file, entries }) => [networkOfFile(file), entries]));
}

/** The directory's file that is not a network's. */
const OWN_FILES = new Set(['aardvark.pid']);

/** The network files aardvark serves in a directory. */
export async function networkFiles(dir: string): Promise<string[]> {
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => !OWN_FILES.has(n) && !n.endsWith('.tmp'));
}

/**
 * One reload after a change: SIGHUP to the running aardvark; none running and `start` (a
 * setup), it is started (`--config DIR -p PORT run`: it forks, and the parent exits once the
 * child listens). A teardown never starts one; an aardvark with nothing left exits by itself.
 */
export async function reloadAardvark(door: ExecDoor, site: AardvarkSite, start: boolean): Promise<'reloaded' | 'started' | 'none'> {
  const pid = await aardvarkPid(site.dir);
  if (pid !== undefined) {
    process.kill(pid, 'SIGHUP');
    return 'reloaded';
  }
  if (!start || (await networkFiles(site.dir)).length === 0) return 'none';
  // Beside the directory, not in it: aardvark 1.4 reads every file there as a network's and
  // exits on one it cannot parse. aardvark 1.4 takes RUST_LOG as a bare level.
  const output = path.join(path.dirname(site.dir), AARDVARK_OUTPUT);
  const run = await door.runFile(site.binary, ['--config', site.dir, '-p', String(site.port), 'run'], { allowFailure: true, outputFile: output, env: { RUST_LOG: 'warn' } });
  if (run.exitCode !== 0) throw new DnsError(`aardvark-dns failed to start: ${oneLine(run.stderr || `exit code ${run.exitCode}`)}`);
  return 'started';
}

/**
 * A teardown's part: the lines `keep` refuses taken out of these files, then one reload if
 * any went (never a start: an aardvark with nothing left exits by itself). Without a site
 * (no binary) the files are still cleaned.
 */
export async function dropEntries(door: ExecDoor, dir: string, files: string[], keep: (containerId: string) => boolean, site: AardvarkSite | undefined): Promise<void> {
  if (files.length === 0 || !existsSync(dir)) return;
  const changed = await editFiles(dir, files, (_file, text) => (text === undefined ? undefined : keepingEntries(text, keep)));
  if (changed && site) await reloadAardvark(door, site, false);
}
