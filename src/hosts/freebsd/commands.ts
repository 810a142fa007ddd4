// Argv for each FreeBSD operation, as plain data: no process is run here. The tool
// comes first; the driver decides how to reach a vnet (`-j` or jexec).
import type { ChildJailOptions, EpairOptions, PfFlush, VnetJailOptions, VxlanOptions } from '../host.js';
import { JLS_PARAMS } from './parse.js';

export type Argv = [tool: string, ...args: string[]];

export const ifconfig = {
  list: (): Argv => ['ifconfig', '-l'],
  show: (name: string): Argv => ['ifconfig', name],
  createEpair: (o: EpairOptions = {}): Argv => [
    'ifconfig', 'epair', 'create',
    ...(o.description ? ['description', o.description] : []),
    ...(o.mtu ? ['mtu', String(o.mtu)] : []),
  ],
  createBridge: (name?: string): Argv => ['ifconfig', 'bridge', 'create', ...(name ? ['name', name] : [])],
  createTap: (): Argv => ['ifconfig', 'tap', 'create'],
  createVxlan: (o: VxlanOptions): Argv => [
    'ifconfig', 'vxlan', 'create', 'vxlanid', String(o.vni), 'vxlanlocal', o.local,
    ...(o.remote ? ['vxlanremote', o.remote] : []),
    ...(o.group ? ['vxlangroup', o.group] : []),
    ...(o.device ? ['vxlandev', o.device] : []),
    ...(o.port ? ['vxlanport', String(o.port)] : []),
  ],
  rename: (name: string, newName: string): Argv => ['ifconfig', name, 'name', newName],
  destroy: (name: string): Argv => ['ifconfig', name, 'destroy'],
  moveToVnet: (name: string, jail: string): Argv => ['ifconfig', name, 'vnet', jail],
  moveFromVnet: (name: string, jail: string): Argv => ['ifconfig', name, '-vnet', jail],
  mtu: (name: string, mtu: number): Argv => ['ifconfig', name, 'mtu', String(mtu)],
  ether: (name: string, mac: string): Argv => ['ifconfig', name, 'ether', mac],
  description: (name: string, text: string): Argv => ['ifconfig', name, 'description', text],
  updown: (name: string, up: boolean): Argv => ['ifconfig', name, up ? 'up' : 'down'],
  promisc: (name: string, on: boolean): Argv => ['ifconfig', name, on ? 'promisc' : '-promisc'],
  addAddress: (name: string, cidr: string): Argv => ['ifconfig', name, cidr.includes(':') ? 'inet6' : 'inet', cidr, 'alias'],
  removeAddress: (name: string, address: string): Argv => [
    'ifconfig', name, address.includes(':') ? 'inet6' : 'inet', address.replace(/\/\d+$/, ''), '-alias',
  ],
  addm: (bridge: string, member: string): Argv => ['ifconfig', bridge, 'addm', member],
  deletem: (bridge: string, member: string): Argv => ['ifconfig', bridge, 'deletem', member],
};

export const route = {
  add: (destination: string, gateway: string): Argv => [
    'route', '-n', destination.includes(':') || gateway.includes(':') ? '-6' : '-4', 'add',
    ...(destination === 'default' ? ['default'] : [destination.includes('/') ? '-net' : '-host', destination]),
    gateway,
  ],
  delete: (destination: string, family: 4 | 6): Argv => [
    'route', '-n', family === 6 ? '-6' : '-4', 'delete',
    ...(destination === 'default' ? ['default'] : [destination.includes('/') ? '-net' : '-host', destination]),
  ],
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

export const pfctl = {
  load: (anchor: string): Argv => ['pfctl', '-a', anchor, '-f', '-'],
  flush: (anchor: string, what: PfFlush): Argv => ['pfctl', '-a', anchor, '-F', what],
  show: (anchor: string, what: 'rules' | 'nat' | 'Anchors'): Argv => ['pfctl', ...(anchor ? ['-a', anchor] : []), '-s', what],
  table: (table: string, op: 'add' | 'delete' | 'replace' | 'show', addresses: string[] = []): Argv => [
    'pfctl', '-t', table, '-T', op, ...addresses,
  ],
  kill: (from: string, to?: string): Argv => ['pfctl', '-k', from, ...(to ? ['-k', to] : [])],
  enable: (): Argv => ['pfctl', '-e'],
  info: (): Argv => ['pfctl', '-s', 'info'],
};

export const sysctl = {
  get: (name: string): Argv => ['sysctl', '-n', name],
  set: (name: string, value: string): Argv => ['sysctl', `${name}=${value}`],
};

export const kld = {
  stat: (name: string): Argv => ['kldstat', '-q', '-m', name],
  load: (name: string): Argv => ['kldload', '-n', name],
};
