// argv builders for the Linux tools the driver runs: iproute2's `ip`, `nft`, `sysctl`,
// util-linux's `nsenter`/`unshare`, `conntrack`. Pure, so plans are testable as data.
import type { DeviceRoute, VxlanOptions } from '../host.js';

export type Argv = [string, ...string[]];

/**
 * A Linux link name as the kernel takes it (dev_valid_name: at most 15 bytes, not "." or
 * "..", no "/", ":" or whitespace), and never one `ip` would read as an option.
 */
export function ifn(name: string): string {
  if (name === '' || name.length > 15 || name === '.' || name === '..' || /[\s/:\0-\x1f\x7f"\\]/.test(name) || name.startsWith('-')) {
    throw new Error(`invalid interface name ${JSON.stringify(name)} (at most 15 characters, no "/", ":" or whitespace, not an option)`);
  }
  return name;
}

const family = (address: string): '-4' | '-6' => (address.includes(':') ? '-6' : '-4');

export const ip = {
  /** ip-monitor(8): one line per link, address and route change of the namespace it runs in. */
  monitor: (): Argv => ['ip', 'monitor', 'link', 'address', 'route'],
  /** Several `ip` operations in one run: the lines of `ip -batch -`. */
  batch: (): Argv => ['ip', '-batch', '-'],
  list: (): Argv => ['ip', '-j', 'link', 'show'],
  show: (name: string): Argv => ['ip', '-j', '-d', 'addr', 'show', 'dev', ifn(name)],
  members: (bridge: string): Argv => ['ip', '-j', 'link', 'show', 'master', ifn(bridge)],
  /**
   * With an address of its own: a bridge whose address was never set takes the lowest of its
   * ports' (net/bridge/br_stp_if.c, br_stp_recalculate_bridge_id, skipped for NET_ADDR_SET),
   * so the gateway's MAC would move under pods that cached it whenever such a port joins or
   * leaves. FreeBSD's if_bridge keeps the address it was created with unless
   * net.link.bridge.inherit_mac is set (if_bridge(4)), and then takes only its first member's.
   */
  createBridge: (name: string, mac: string): Argv => ['ip', 'link', 'add', 'name', ifn(name), 'address', mac, 'type', 'bridge'],
  createTap: (name: string): Argv => ['ip', 'tuntap', 'add', 'dev', ifn(name), 'mode', 'tap'],
  createVxlan: (name: string, o: VxlanOptions): Argv => [
    'ip', 'link', 'add', ifn(name), 'type', 'vxlan', 'id', String(o.vni), 'local', o.local,
    ...(o.remote ? ['remote', o.remote] : []),
    ...(o.group ? ['group', o.group] : []),
    ...(o.device ? ['dev', o.device] : []),
    'dstport', String(o.port ?? 4789),
  ],
  destroy: (name: string): Argv => ['ip', 'link', 'del', 'dev', ifn(name)],
  set: (name: string, ...what: string[]): Argv => ['ip', 'link', 'set', 'dev', ifn(name), ...what],
  addAddress: (name: string, cidr: string): Argv => ['ip', 'addr', 'add', cidr, 'dev', ifn(name), ...(cidr.includes(':') ? ['nodad'] : [])],
  removeAddress: (name: string, address: string): Argv => ['ip', 'addr', 'del', address, 'dev', ifn(name)],
  addRoute: (destination: string, gateway: string): Argv => ['ip', family(gateway), 'route', 'add', destination, 'via', gateway],
  deleteRoute: (destination: string, fam: 4 | 6): Argv => ['ip', fam === 4 ? '-4' : '-6', 'route', 'del', destination],
  deviceRoute: (change: 'add' | 'del', r: DeviceRoute): Argv => [
    'ip', r.family === 6 ? '-6' : '-4', 'route', change, r.destination, ...(r.gateway ? ['via', r.gateway] : []), 'dev', ifn(r.device),
  ],
  routes: (fam: 4 | 6): Argv => ['ip', '-j', fam === 4 ? '-4' : '-6', 'route', 'show'],
  netnsList: (): Argv => ['ip', '-j', 'netns', 'list'],
  netnsAdd: (name: string): Argv => ['ip', 'netns', 'add', name],
  netnsDelete: (name: string): Argv => ['ip', 'netns', 'del', name],
};

export const nft = {
  apply: (): Argv => ['nft', '-f', '-'],
  listTable: (table: string, family: 'inet' | 'ip' = 'inet'): Argv => ['nft', '-j', 'list', 'table', family, table],
  /** One chain and its rules: what nft reads of the kernel for it does not grow with the other chains' rules. */
  listChain: (table: string, chain: string): Argv => ['nft', '-j', 'list', 'chain', 'inet', table, chain],
  /** Exit 0 only when every element is in the set (an interval set finds an address by lookup). */
  getElements: (table: string, set: string, elements: string[]): Argv => ['nft', 'get', 'element', 'inet', table, set, `{ ${elements.join(', ')} }`],
  probe: (): Argv => ['nft', 'list', 'tables'],
};

export const sysctl = {
  get: (name: string): Argv => ['sysctl', '-n', name],
  /** Several values, one per line, in the order asked. */
  getAll: (names: string[]): Argv => ['sysctl', '-n', ...names],
  set: (name: string, value: string): Argv => ['sysctl', '-w', `${name}=${value}`],
};

export const conntrack = {
  deleteTo: (address: string): Argv => ['conntrack', '-D', '-d', address],
  /** The flows of one protocol whose original destination is the address (kata-ipvs cleanup). */
  deleteProtocolTo: (address: string, protocol: 'tcp' | 'udp'): Argv => ['conntrack', '-D', '--orig-dst', address, '--proto', protocol],
  /** Every IPv4 flow of the namespace, one per line. */
  list: (): Argv => ['conntrack', '-L', '-f', 'ipv4'],
};

/**
 * What a container (a child jail) may not do, as in a FreeBSD child jail without a vnet:
 * reconfigure the pod's network, mount, load modules or poke at raw devices.
 */
export const DROPPED_CAPABILITIES = '-net_admin,-sys_admin,-sys_module,-sys_rawio';

/** Resolves a tool that another tool (nsenter) runs: from the tool path, never PATH. */
export type Which = (tool: string) => string;

/** The child-jail emulation: a holder process in its own pid and uts namespaces inside the pod's netns. */
export const holder = {
  start: (netns: string, which: Which): Argv => [
    'nsenter', `--net=${netns}`, '--', which('unshare'), '--pid', '--uts', '--fork', '--kill-child', '--', which('sleep'), 'infinity',
  ],
  setHostname: (init: number, hostname: string, which: Which): Argv => ['nsenter', `--target=${init}`, '--uts', '--', which('hostname'), hostname],
  /** A command in the container: its namespaces and root, with the capabilities above dropped from the bounding set. */
  enter: (init: number, root: string, command: string[], which: Which): Argv => [
    'nsenter', `--target=${init}`, '--net', '--uts', '--pid', '--',
    which('setpriv'), `--bounding-set=${DROPPED_CAPABILITIES}`, '--',
    ...(root === '/' ? [] : [which('chroot'), root]),
    ...command,
  ],
  kill: (pid: number): Argv => ['kill', '-KILL', String(pid)],
};

/** A command in a vnet jail's (a netns's) network stack. */
export const inNetns = (netns: string, command: string[]): Argv => ['nsenter', `--net=${netns}`, '--', ...command];
