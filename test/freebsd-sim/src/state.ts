// The simulator's shared state: one JSON file in $JAILNET_SIM_STATE, read and written
// under a lock by every tool invocation, plus an append-only command log.
import { appendFileSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { withLock } from '../../../dist/util/file-lock.js';

export const HOST = 'host';

export type Cloner = 'epair' | 'bridge' | 'lo' | 'tap' | 'vxlan' | 'ether';

export interface Addr4 {
  address: string;
  prefix: number;
}

export interface Addr6 {
  address: string;
  prefix: number;
  linkLocal?: boolean;
}

export interface Iface {
  id: number;
  name: string;
  /** The vnet it is in now, and the one it returns to when that vnet is freed. */
  vnet: string;
  home: string;
  cloner: Cloner;
  /** The cloner unit: allocated in the home vnet until destroyed, whatever the name becomes. */
  unit?: number;
  ifindex: number;
  up: boolean;
  promisc: boolean;
  mtu: number;
  mac: string;
  hwaddr: string;
  description?: string;
  groups: string[];
  inet: Addr4[];
  inet6: Addr6[];
  nd6Disabled: boolean;
  peer?: number;
  memberOf?: number;
  /** Order of joining its bridge (higher is newer): the bridge lists its newest member first. */
  memberSince?: number;
  vxlan?: { vni: number; local: string; remote?: string; group?: string; port: number; dev?: string };
}

export interface StaticRoute {
  family: 4 | 6;
  /** "default" or a prefix "a.b.c.d/len". */
  destination: string;
  gateway: string;
  /** The interface the gateway is reached through. */
  netif: string;
  host: boolean;
}

export interface PfAnchor {
  nat: string[];
  rdr: string[];
  rules: string[];
}

export interface PfTable {
  persist: boolean;
  addresses: string[];
}

export interface PfState {
  proto: string;
  src: string;
  dst: string;
  /** For a redirected connection, the destination the client asked for (pfctl prints it in parentheses). */
  original?: string;
}

/** A sticky-address source node: a client bound to a pool address until it expires. */
export interface PfSourceNode {
  rule: string;
  src: string;
  address: string;
  /** ms since the epoch. */
  expires: number;
}

export interface Pf {
  enabled: boolean;
  /** Keyed by anchor path; "" is the main ruleset. */
  anchors: Record<string, PfAnchor>;
  /** Keyed by "<anchor>:<table>". */
  tables: Record<string, PfTable>;
  states: PfState[];
  /** `set timeout` values of the main ruleset, by pf's names. */
  timeouts?: Record<string, number>;
  /** A round-robin pool's next entry, by anchor and rule text. */
  pools?: Record<string, number>;
  sources?: PfSourceNode[];
}

export interface Vnet {
  id: string;
  nextIfindex: number;
  sysctls: Record<string, string>;
  routes: StaticRoute[];
  pf: Pf;
}

export interface Jail {
  jid: number;
  name: string;
  parent: number;
  path: string;
  persist: boolean;
  vnet: 'new' | 'inherit';
  /** The vnet the jail's processes use: its own, or an ancestor's (or the host's). */
  vnetId: string;
  ip4: 'new' | 'inherit' | 'disable';
  ip6: 'new' | 'inherit' | 'disable';
  childrenMax: number;
  hostname: string;
  dying: boolean;
  dyingUntil?: number;
  params: Record<string, string>;
}

/** A simulated aardvark-dns: a real process (so that signals and pid checks are real), its view kept here. */
export interface SimAardvark {
  pid: number;
  /** Its --config directory and -p port. */
  dir: string;
  port: number;
  /** The addresses it listens on (every network file's first line) and the networks it serves. */
  listen: string[];
  networks: string[];
  /** SIGHUPs it has taken. */
  reloads: number;
}

export interface SimState {
  /** uname -r of the simulated host: -j exists from 13.3 on. */
  release: string;
  lastJid: number;
  nextIfaceId: number;
  macCounter: number;
  /** How long a removed jail stays dying before it is freed. */
  dyingMs: number;
  modules: string[];
  /** Tool invocations so far, and the one (1-based) that fails on purpose, for rollback tests. */
  commandCount: number;
  failAt?: number;
  /** Commands that fail every time (nothing changes), by the start of their argv joined by spaces. */
  failOn?: string[];
  /**
   * Command number pauseAt takes effect, then its process writes the pause file and
   * waits for the test to SIGKILL the process group it started — a crash right after
   * that command. Only processes started with JAILNET_SIM_PAUSABLE=1 pause.
   */
  pauseAt?: number;
  /** The aardvark-dns processes started through the simulated binary (aardvark.ts), by pid. */
  aardvarks?: SimAardvark[];
  jails: Jail[];
  vnets: Vnet[];
  ifaces: Iface[];
}

export const VNET_SYSCTLS: Record<string, string> = {
  'net.inet.ip.forwarding': '0',
  'net.inet6.ip6.forwarding': '0',
  'net.inet.ip.random_id': '0',
  'net.inet6.ip6.dad_count': '1',
  'net.inet6.ip6.accept_rtadv': '0',
  'net.inet6.ip6.auto_linklocal': '1',
  'net.pf.filter_local': '0',
  'net.link.bridge.pfil_member': '1',
  'net.link.bridge.pfil_bridge': '1',
  'net.link.bridge.pfil_onlyip': '1',
  'net.link.bridge.pfil_local_phys': '0',
  'net.link.bridge.inherit_mac': '0',
};

export const GLOBAL_SYSCTLS: Record<string, string> = {
  'kern.features.vimage': '1',
  'security.jail.jailed': '0',
  'net.fibs': '1',
};

export function emptyPf(): Pf {
  return { enabled: false, anchors: {}, tables: {}, states: [] };
}

export function newVnet(id: string): Vnet {
  return { id, nextIfindex: 1, sysctls: { ...VNET_SYSCTLS }, routes: [], pf: emptyPf() };
}

export interface InitOptions {
  release?: string;
  /** The host's uplink: name, address/prefix and default gateway. */
  uplink?: { name: string; cidr: string; gateway: string };
  modules?: string[];
  dyingMs?: number;
}

export function initialState(options: InitOptions = {}): SimState {
  const state: SimState = {
    release: options.release ?? '14.1-RELEASE',
    lastJid: 0,
    nextIfaceId: 1,
    macCounter: 0,
    dyingMs: options.dyingMs ?? 0,
    modules: options.modules ?? ['if_bridge', 'bridgestp', 'if_epair', 'pf'],
    commandCount: 0,
    jails: [],
    vnets: [newVnet(HOST)],
    ifaces: [],
  };
  return state;
}

export function stateFile(dir: string): string {
  return path.join(dir, 'state.json');
}

export function logFile(dir: string): string {
  return path.join(dir, 'commands.log');
}

/** Written by the command that paused for a kill: `{ pid, argv }`. */
export function pauseFile(dir: string): string {
  return path.join(dir, 'paused.json');
}

export function readState(dir: string): SimState {
  return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as SimState;
}

export async function writeState(dir: string, state: SimState): Promise<void> {
  const target = stateFile(dir);
  const temp = `${target}.tmp-${process.pid}`;
  await fs.writeFile(temp, JSON.stringify(state));
  await fs.rename(temp, target);
}

/**
 * A kernel does not fail a command because other commands run at the same time: a tool
 * waits its turn (the lock is fair) for as long as any test could need.
 */
export const STATE_LOCK_TIMEOUT_MS = 600_000;

/** Runs one tool invocation against the state, serialised with every other one. */
export async function withState<T>(dir: string, work: (state: SimState) => Promise<T> | T): Promise<T> {
  return withLock(path.join(dir, 'lock.owner'), async () => {
    const state = readState(dir);
    const result = await work(state);
    await writeState(dir, state);
    return result;
  }, { timeoutMs: STATE_LOCK_TIMEOUT_MS });
}

export interface LogEntry {
  argv: string[];
  /** The jail the command ran in (jexec), or "host". */
  context: string;
  /** The vnet it acted in: the context's, or the one `-j` named. */
  vnet: string;
  exitCode: number;
}

export function appendLog(dir: string, entry: LogEntry): void {
  appendFileSync(logFile(dir), `${JSON.stringify(entry)}\n`);
}

export function readLog(dir: string): LogEntry[] {
  try {
    return readFileSync(logFile(dir), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as LogEntry);
  } catch {
    return [];
  }
}
