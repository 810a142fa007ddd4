// Argv for each FreeBSD operation, as plain data: no process is run here. The tool
// comes first; the driver decides how to reach a vnet (`-j` or jexec).
import { parsePrefix } from '../../ipam/ip.js';
import { validateInterfaceName, validateMacAddress } from '../../names.js';
import type { ChildJailOptions, DeviceRoute, EpairOptions, VnetJailOptions, VxlanOptions } from '../host.js';
import { JLS_PARAMS } from './parse.js';

export type Argv = [tool: string, ...args: string[]];

/** The placeholder a plan uses for a name the kernel would pick (`epair?a`). */
const PLAN_PLACEHOLDER = /^[a-z]+\?[ab]?$/;

/** Every interface name is checked where it enters an argv: never an option, a path or 16+ characters. */
function ifn(name: string): string {
  return PLAN_PLACEHOLDER.test(name) ? name : validateInterfaceName(name);
}


export const ifconfig = {
  list: (): Argv => ['ifconfig', '-l'],
  show: (name: string): Argv => ['ifconfig', ifn(name)],
  /** `unit` asks for epairN (so the b end's name is known when `name` renames the a end). */
  createEpair: (o: EpairOptions = {}, unit?: number): Argv => [
    'ifconfig', unit === undefined ? 'epair' : `epair${unit}`, 'create',
    ...(o.name ? ['name', ifn(o.name)] : []),
    ...(o.description ? ['description', o.description] : []),
    ...(o.mtu ? ['mtu', String(o.mtu)] : []),
    ...(o.up ? ['up'] : []),
  ],
  createBridge: (name?: string): Argv => ['ifconfig', 'bridge', 'create', ...(name ? ['name', ifn(name)] : [])],
  createTap: (name?: string): Argv => ['ifconfig', 'tap', 'create', ...(name ? ['name', ifn(name)] : [])],
  createVxlan: (o: VxlanOptions): Argv => [
    'ifconfig', 'vxlan', 'create', 'vxlanid', String(o.vni), 'vxlanlocal', o.local,
    ...(o.remote ? ['vxlanremote', o.remote] : []),
    ...(o.group ? ['vxlangroup', o.group] : []),
    ...(o.device ? ['vxlandev', o.device] : []),
    ...(o.port ? ['vxlanport', String(o.port)] : []),
  ],
  rename: (name: string, newName: string): Argv => ['ifconfig', ifn(name), 'name', ifn(newName)],
  destroy: (name: string): Argv => ['ifconfig', ifn(name), 'destroy'],
  moveToVnet: (name: string, jail: string): Argv => ['ifconfig', ifn(name), 'vnet', jail],
  moveFromVnet: (name: string, jail: string): Argv => ['ifconfig', ifn(name), '-vnet', jail],
  mtu: (name: string, mtu: number): Argv => ['ifconfig', ifn(name), 'mtu', String(mtu)],
  // `ether` is an address family in ifconfig (af_link.c), not a command: right after the
  // name only, set after every other word of the line, so a command of its own, never part
  // of a `create` or `vnet` line.
  ether: (name: string, mac: string): Argv => ['ifconfig', ifn(name), 'ether', validateMacAddress(mac)],
  description: (name: string, text: string): Argv => ['ifconfig', ifn(name), 'description', text],
  updown: (name: string, up: boolean): Argv => ['ifconfig', ifn(name), up ? 'up' : 'down'],
  promisc: (name: string, on: boolean): Argv => ['ifconfig', ifn(name), on ? 'promisc' : '-promisc'],
  addAddress: (name: string, cidr: string): Argv => ['ifconfig', ifn(name), cidr.includes(':') ? 'inet6' : 'inet', cidr, 'alias'],
  // ifconfig.8: parameters apply in order in one run; `up` sets IFF_UP (setifflags) and the
  // address is added once the line is read (the af's SIOCAIFADDR in ifconfig.c).
  addAddressAndUp: (name: string, cidr: string): Argv => [...ifconfig.addAddress(name, cidr), 'up'],
  removeAddress: (name: string, address: string): Argv => [
    'ifconfig', ifn(name), address.includes(':') ? 'inet6' : 'inet', address.replace(/\/\d+$/, ''), '-alias',
  ],
  addm: (bridge: string, member: string): Argv => ['ifconfig', ifn(bridge), 'addm', ifn(member)],
  deletem: (bridge: string, member: string): Argv => ['ifconfig', ifn(bridge), 'deletem', ifn(member)],
};

/** route.8's destination words: `default`, `-net A/L` or `-host A`. */
/** route(8)'s destination words; a zero-length prefix (CNI's `0.0.0.0/0`, `::/0`) is its `default`. */
const routeTarget = (destination: string): string[] =>
  destination === 'default' || parsePrefix(destination)?.bits === 0 ? ['default'] : [destination.includes('/') ? '-net' : '-host', destination];

export const route = {
  /** route(8) `monitor`: in a vnet through -j (13.3+; running-pods.md §5, freebsd-mechanics.md §3.2). */
  monitor: (vnet?: string): Argv => ['route', ...(vnet === undefined ? [] : ['-j', vnet]), '-n', 'monitor'],
  add: (destination: string, gateway: string): Argv => [
    'route', '-n', destination.includes(':') || gateway.includes(':') ? '-6' : '-4', 'add', ...routeTarget(destination), gateway,
  ],
  delete: (destination: string, family: 4 | 6): Argv => ['route', '-n', family === 6 ? '-6' : '-4', 'delete', ...routeTarget(destination)],
};

/**
 * route.8: a gateway, or `-interface` for a route on the link; `-ifp` names the interface
 * a gateway route leaves by (route.c, K_IFP: getaddr of an interface name).
 */
export const deviceRoute = {
  add: (r: DeviceRoute): Argv => [
    'route', '-n', r.family === 6 ? '-6' : '-4', 'add', ...routeTarget(r.destination),
    ...(r.gateway ? [r.gateway, '-ifp', ifn(r.device)] : ['-interface', ifn(r.device)]),
  ],
  delete: (r: DeviceRoute): Argv => ['route', '-n', r.family === 6 ? '-6' : '-4', 'delete', ...routeTarget(r.destination), ...(r.gateway ? [r.gateway] : [])],
};

export const netstat = { routes: (): Argv => ['netstat', '-rn'] };

export const jail = {
  createVnet: (name: string, o: VnetJailOptions = {}): Argv => [
    'jail', '-c', `name=${name}`, 'path=/', 'vnet', 'persist',
    `children.max=${o.childrenMax ?? 0}`, `host.hostname=${o.hostname ?? name}`,
  ],
  createChild: (name: string, o: ChildJailOptions): Argv => [
    'jail', '-c', `name=${name}`, `path=${o.path}`, 'ip4=inherit', 'ip6=inherit', 'persist',
    ...(o.childrenMax ? [`children.max=${o.childrenMax}`] : []),
    `host.hostname=${o.hostname ?? name.slice(name.lastIndexOf('.') + 1)}`,
  ],
  remove: (name: string): Argv => ['jail', '-r', name],
};

export const jls = {
  list: (dying: boolean): Argv => ['jls', ...(dying ? ['-d'] : []), '-h', '-q', ...JLS_PARAMS],
  one: (name: string, dying: boolean): Argv => ['jls', ...(dying ? ['-d'] : []), '-j', name, '-h', '-q', ...JLS_PARAMS],
};

/** pfctl's -k takes a source host and, optionally, a destination: at most two. */
const killers = (from: string, to?: string): string[] => [from, ...(to ? [to] : [])];

export const pfctl = {
  load: (anchor: string): Argv => ['pfctl', '-a', anchor, '-f', '-'],
  // pfctl's main() flushes (-F) before it kills states (-k), in one invocation (sbin/pfctl/pfctl.c);
  // -k is not bound to the anchor.
  flush: (anchor: string, what: 'all' | 'nat' | 'rules', kill: string[] = []): Argv => ['pfctl', '-a', anchor, '-F', what, ...kill.flatMap((k) => ['-k', k])],
  // -P: ports as numbers, never /etc/services names (pfctl.8), so what is read back parses one way.
  show: (anchor: string, what: 'rules' | 'nat'): Argv => ['pfctl', '-P', ...(anchor ? ['-a', anchor] : []), '-s', what],
  table: (table: string, op: 'add' | 'delete' | 'show', addresses: string[] = []): Argv => [
    'pfctl', '-t', table, '-T', op, ...addresses,
  ],
  kill: (from: string, to?: string): Argv => ['pfctl', ...killers(from, to).flatMap((k) => ['-k', k])],
  info: (): Argv => ['pfctl', '-s', 'info'],
  /** The main ruleset from stdin (a pod's own vnet: jailnet's load balancer is its only user). */
  loadMain: (): Argv => ['pfctl', '-f', '-'],
  enable: (): Argv => ['pfctl', '-e'],
  states: (): Argv => ['pfctl', '-s', 'states'],
};

export const sysctl = {
  get: (name: string): Argv => ['sysctl', '-n', name],
  set: (name: string, value: string): Argv => ['sysctl', `${name}=${value}`],
};

export const kld = {
  stat: (name: string): Argv => ['kldstat', '-m', name],
  load: (name: string): Argv => ['kldload', '-n', name],
};
