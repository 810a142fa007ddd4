// Operations on the simulated kernel state that several tools share: interfaces per
// vnet, jails and their lifecycle (dying, freeing, returning interfaces home).
import { HOST, newVnet, type Cloner, type Iface, type Jail, type SimState, type Vnet } from './state.js';

export const IFNAMSIZ = 16;

/** A tool's failure: what it prints and its exit code. */
export class ToolError extends Error {
  constructor(
    readonly stderr: string,
    readonly exitCode = 1,
    readonly stdout = '',
  ) {
    super(stderr);
  }
}

export function vnetOf(state: SimState, id: string): Vnet {
  const vnet = state.vnets.find((v) => v.id === id);
  if (!vnet) throw new Error(`simulator: no vnet ${id}`);
  return vnet;
}

export function ifacesIn(state: SimState, vnet: string): Iface[] {
  return state.ifaces.filter((i) => i.vnet === vnet).sort((a, b) => a.ifindex - b.ifindex);
}

export function findIface(state: SimState, vnet: string, name: string): Iface | undefined {
  return state.ifaces.find((i) => i.vnet === vnet && i.name === name);
}

export function ifaceById(state: SimState, id: number | undefined): Iface | undefined {
  return id === undefined ? undefined : state.ifaces.find((i) => i.id === id);
}

function nextMac(state: SimState, last: string): string {
  state.macCounter += 1;
  const n = state.macCounter;
  const bytes = [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff].map((b) => b.toString(16).padStart(2, '0'));
  return `02:${bytes.join(':')}:00:${last}`;
}

export function bridgeMac(state: SimState): string {
  state.macCounter += 1;
  const n = state.macCounter;
  return `58:9c:fc:${[(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
}

export function addIface(state: SimState, vnetId: string, name: string, cloner: Cloner, extra: Partial<Iface> = {}): Iface {
  const vnet = vnetOf(state, vnetId);
  const mac = extra.mac ?? (cloner === 'lo' ? '' : nextMac(state, cloner === 'epair' ? '0a' : '00'));
  const iface: Iface = {
    id: state.nextIfaceId++,
    name,
    vnet: vnetId,
    home: vnetId,
    cloner,
    ifindex: vnet.nextIfindex++,
    up: false,
    promisc: false,
    mtu: cloner === 'lo' ? 16384 : cloner === 'vxlan' ? 1450 : 1500,
    mac,
    hwaddr: mac,
    groups: [cloner === 'ether' ? '' : cloner].filter(Boolean),
    inet: [],
    inet6: [],
    nd6Disabled: cloner !== 'lo',
    ...extra,
  };
  state.ifaces.push(iface);
  return iface;
}

/**
 * The lowest unit N the cloner has not handed out in this vnet (renamed or moved
 * interfaces keep theirs) and whose name (epair: Na and Nb) is free.
 */
export function lowestFreeUnit(state: SimState, vnetId: string, cloner: Cloner): number {
  const allocated = new Set(state.ifaces.filter((i) => i.cloner === cloner && i.home === vnetId).map((i) => i.unit));
  for (let unit = 0; ; unit++) {
    const names = cloner === 'epair' ? [`epair${unit}a`, `epair${unit}b`] : [`${cloner}${unit}`];
    if (!allocated.has(unit) && !names.some((name) => findIface(state, vnetId, name))) return unit;
  }
}

/** Routes through an interface go when it leaves its vnet (destroyed or moved), as the kernel purges them. */
export function dropRoutesVia(state: SimState, iface: Iface): void {
  const vnet = state.vnets.find((v) => v.id === iface.vnet);
  if (vnet) vnet.routes = vnet.routes.filter((r) => r.netif !== iface.name);
}

export function removeIface(state: SimState, iface: Iface): void {
  dropRoutesVia(state, iface);
  // A member leaves its bridge; a bridge's members are detached, not destroyed.
  for (const member of state.ifaces.filter((i) => i.memberOf === iface.id)) {
    member.memberOf = undefined;
    member.promisc = false;
  }
  state.ifaces = state.ifaces.filter((i) => i.id !== iface.id);
}

/** Destroying either end of an epair destroys both, wherever the peer lives. */
export function destroyIface(state: SimState, iface: Iface): void {
  const peer = ifaceById(state, iface.peer);
  removeIface(state, iface);
  if (peer) removeIface(state, peer);
}

export function jailByJid(state: SimState, jid: number): Jail | undefined {
  return state.jails.find((j) => j.jid === jid);
}

/**
 * Whether processes of this jail may configure the network: the host, and jails with a
 * vnet of their own (prison_priv_check grants PRIV_NET_* only to vnet jails).
 */
export function mayConfigureNetwork(state: SimState, jid: number): boolean {
  return jid === 0 || jailByJid(state, jid)?.vnet === 'new';
}

/** The vnet a jail's processes see (the host's for jid 0). */
export function contextVnet(state: SimState, jid: number): string {
  if (jid === 0) return HOST;
  return jailByJid(state, jid)?.vnetId ?? HOST;
}

/**
 * Finds a live jail by name or jid, relative to the caller's jail as the kernel does:
 * from inside `pod`, `c1` means `pod.c1`.
 */
export function lookupJail(state: SimState, key: string, callerJid: number, includeDying = false): Jail | undefined {
  const usable = (j: Jail) => includeDying || !j.dying;
  if (/^\d+$/.test(key)) {
    const jail = jailByJid(state, Number(key));
    return jail && usable(jail) && isDescendant(state, jail, callerJid) ? jail : undefined;
  }
  const caller = jailByJid(state, callerJid);
  const full = caller ? `${caller.name}.${key}` : key;
  const matches = state.jails.filter((j) => j.name === full && usable(j));
  return matches.find((j) => !j.dying) ?? matches[0];
}

export function isDescendant(state: SimState, jail: Jail, ancestorJid: number): boolean {
  if (ancestorJid === 0) return true;
  for (let current: Jail | undefined = jail; current; current = jailByJid(state, current.parent)) {
    if (current.parent === ancestorJid) return true;
  }
  return false;
}

/** The name as the caller sees it (relative to its own jail). */
export function relativeName(state: SimState, jail: Jail, callerJid: number): string {
  const caller = jailByJid(state, callerJid);
  return caller && jail.name.startsWith(`${caller.name}.`) ? jail.name.slice(caller.name.length + 1) : jail.name;
}

export function descendants(state: SimState, jid: number): Jail[] {
  const out: Jail[] = [];
  for (const child of state.jails.filter((j) => j.parent === jid)) out.push(child, ...descendants(state, child.jid));
  return out;
}

export function createVnetFor(state: SimState, jid: number): string {
  const id = `jail${jid}`;
  state.vnets.push(newVnet(id));
  // A new vnet has lo0, down and without addresses.
  addIface(state, id, 'lo0', 'lo');
  return id;
}

/**
 * Moves an interface to another vnet as if_vmove does: it leaves its bridge (and a
 * bridge loses its members), drops addresses and groups, keeps MAC, MTU, description.
 */
export function moveIface(state: SimState, iface: Iface, target: string): void {
  dropRoutesVia(state, iface);
  iface.memberOf = undefined;
  iface.promisc = false;
  for (const member of state.ifaces.filter((i) => i.memberOf === iface.id)) {
    member.memberOf = undefined;
    member.promisc = false;
  }
  iface.inet = [];
  iface.inet6 = [];
  // sys/net/if.c if_vmove: if_detach_internal drops every group and takes the interface
  // down (if_delgroups, if_down); if_attach_internal gives a cloned one its cloner's group back.
  iface.groups = iface.cloner === 'ether' ? [] : [iface.cloner];
  iface.up = false;
  iface.nd6Disabled = true;
  iface.vnet = target;
  iface.ifindex = vnetOf(state, target).nextIfindex++;
}

/** Frees a jail: its vnet goes away, moved-in interfaces return home, cloned ones die. */
function freeJail(state: SimState, jail: Jail): void {
  state.jails = state.jails.filter((j) => j.jid !== jail.jid);
  if (jail.vnet !== 'new') return;
  for (const iface of state.ifaces.filter((i) => i.vnet === jail.vnetId)) {
    if (iface.home !== jail.vnetId) {
      moveIface(state, iface, iface.home);
    } else {
      destroyIface(state, iface);
    }
  }
  state.vnets = state.vnets.filter((v) => v.id !== jail.vnetId);
}

/** Frees every dying jail whose time has come; called before each command. */
export function reap(state: SimState, now = Date.now()): void {
  for (const jail of [...state.jails]) {
    if (jail.dying && (jail.dyingUntil ?? 0) <= now) freeJail(state, jail);
  }
}

/** jail_remove(2): the jail and all its descendants become dying. */
export function removeJailTree(state: SimState, jail: Jail, now = Date.now()): void {
  for (const victim of [jail, ...descendants(state, jail.jid)]) {
    victim.dying = true;
    victim.dyingUntil = now + state.dyingMs;
  }
  reap(state, now);
}

export function formatFlags(bits: number, names: Array<[number, string]>): string {
  const set = names.filter(([bit]) => bits & bit).map(([, name]) => name);
  return `${bits.toString(16)}<${set.join(',')}>`;
}

export function validIfname(name: string): boolean {
  return name.length > 0 && name.length < IFNAMSIZ;
}

export function hostIfaceSetup(state: SimState, uplink: { name: string; cidr: string; gateway: string }): void {
  const lo = addIface(state, HOST, 'lo0', 'lo');
  lo.up = true;
  lo.inet.push({ address: '127.0.0.1', prefix: 8 });
  lo.inet6.push({ address: '::1', prefix: 128 }, { address: 'fe80::1', prefix: 64, linkLocal: true });
  const [address, prefix] = uplink.cidr.split('/');
  const ext = addIface(state, HOST, uplink.name, 'ether', { mac: '52:54:00:12:34:56', hwaddr: '52:54:00:12:34:56' });
  ext.up = true;
  ext.inet.push({ address: address as string, prefix: Number(prefix) });
  vnetOf(state, HOST).routes.push({ family: 4, destination: 'default', gateway: uplink.gateway, netif: uplink.name, host: false });
}
