// ifconfig's address words as FreeBSD 14 reads them (sbin/ifconfig/ifconfig.c ifconfig(),
// setifaddr, notealias, setifnetmask, setifprefixlen; af_inet.c in_getaddr, in_getip,
// in_postproc, warn_nomask; af_inet6.c in6_getaddr, in6_postproc):
//  - a word that is no keyword is the address (setifaddr), a second one the destination;
//  - `alias`/`add` and `-alias`/`delete`/`remove` are keywords of their own, before or after
//    the address (notealias: a later `-alias` turns the address just read into the one to
//    delete);
//  - the address and mask are parsed as they are read (errors exit at once), the change
//    itself is made after every word has been read: first the delete, then the add.
import { formatIP, parseIP } from '../../../dist/ipam/ip.js';

import { ToolError, vnetOf } from './model.js';
import type { Iface, SimState } from './state.js';

export type Family = 'inet' | 'inet6';

const fail = (message: string): never => {
  throw new ToolError(`ifconfig: ${message}\n`, 1);
};

/** What the words of one ifconfig run asked of the family's addresses. */
export interface AddressRequest {
  family: Family;
  /** notealias's doalias: 0 none, 1 alias/add, -1 -alias/delete/remove. */
  doalias: 0 | 1 | -1;
  setaddr: boolean;
  clearaddr: boolean;
  newaddr: boolean;
  add?: { address: string; prefix?: number };
  remove?: string;
}

export function newAddressRequest(family: Family): AddressRequest {
  return { family, doalias: 0, setaddr: false, clearaddr: false, newaddr: true };
}

/** in_getip: inet_aton, else a host or network name (none are known here): `X: bad value`. */
function inetAddress(text: string): string {
  // inet_aton also takes 1-3 part and hex/octal forms; jailnet never sends them.
  const ip = /^\d+\.\d+\.\d+\.\d+$/.test(text) ? parseIP(text) : undefined;
  if (!ip || ip.family !== 4) fail(`${text}: bad value`);
  return formatIP(ip!);
}

/** in_getaddr(ADDR): `A/L` with L read by strtonum(0, 32) after an isdigit check. */
function inetWithWidth(text: string): { address: string; prefix?: number } {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return { address: inetAddress(text) };
  const width = text.slice(slash + 1);
  // strtonum: anything but digits is "invalid", more than 32 is "too large".
  const problem = !/^\d+$/.test(width) ? 'invalid' : Number(width) > 32 ? 'too large' : undefined;
  if (problem) fail(`${text}: bad value (width ${problem})`);
  return { address: inetAddress(text.slice(0, slash)), prefix: Number(width) };
}

/** in6_getaddr (netlink): the prefix by strtol, 0–128 (`L: bad value`); then getaddrinfo / inet_pton. */
function inet6WithPrefix(text: string): { address: string; prefix?: number } {
  const slash = text.lastIndexOf('/');
  let prefix: number | undefined;
  let addressText = text;
  if (slash >= 0) {
    const width = text.slice(slash + 1);
    const leading = /^\s*[+-]?\d+/.exec(width);
    prefix = leading ? Number(leading[0]) : 0;
    if (prefix < 0 || prefix > 128) fail(`${width}: bad value`);
    addressText = text.slice(0, slash);
  }
  const ip = parseIP(addressText.replace(/%[^%]*$/, ''));
  if (!ip || ip.family !== 6) fail(`${addressText}: bad value`);
  return { address: formatIP(ip!), prefix };
}

/** setifaddr: the first address word (ADDR, or RIDADDR after -alias). */
export function setAddress(req: AddressRequest, text: string): void {
  req.setaddr = true;
  if (req.doalias === 0) req.clearaddr = true;
  const parsed = req.family === 'inet' ? inetWithWidth(text) : inet6WithPrefix(text);
  if (req.doalias >= 0) req.add = { ...parsed, prefix: parsed.prefix ?? req.add?.prefix };
  else req.remove = parsed.address;
}

/** setifdstaddr: a second address word, parsed (its errors are real) but not modelled. */
export function setDestination(req: AddressRequest, text: string): void {
  if (req.family === 'inet') inetAddress(text);
  else inet6WithPrefix(text);
}

/** notealias. */
export function noteAlias(req: AddressRequest, param: 1 | -1): void {
  if (req.setaddr && req.doalias === 0 && param < 0 && req.add) req.remove = req.add.address;
  req.doalias = param;
  if (param < 0) {
    req.clearaddr = true;
    req.newaddr = false;
  } else req.clearaddr = false;
}

/** setifnetmask (inet: in_getaddr(MASK), the bits counted) and setifprefixlen (inet6). */
export function setMask(req: AddressRequest, keyword: 'netmask' | 'prefixlen', value: string): void {
  let prefix: number;
  if (keyword === 'netmask') {
    const bits = value.startsWith('0x') ? parseInt(value, 16) : Number(parseIP(inetAddress(value))?.value ?? 0);
    prefix = (bits >>> 0).toString(2).split('').filter((b) => b === '1').length;
  } else {
    prefix = Number(/^\d+/.exec(value)?.[0] ?? 0);
    if (prefix > 128) fail(`${value}: bad value`);
  }
  req.add = { address: req.add?.address ?? '', prefix };
}

function classfulPrefix(address: string): number {
  const first = Number(address.split('.')[0]);
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

export interface ApplyContext {
  state: SimState;
  vnet: string;
  iface: Iface;
  stderr: string[];
  /** Turns the interface up as the driver's SIOCSIFADDR does (ether_ioctl). */
  bringUp: (iface: Iface) => void;
  linkLocalFor: (iface: Iface) => string;
}

function addressInUse(ctx: ApplyContext, address: string): boolean {
  return ctx.state.ifaces.some(
    (i) => i.vnet === ctx.vnet && i.id !== ctx.iface.id && [...i.inet, ...i.inet6].some((a) => a.address === address),
  );
}

/** in_postproc: an address without a mask gets the classful one, with warn_nomask's warning. */
function postprocess(ctx: ApplyContext, req: AddressRequest): void {
  if (!req.add || !req.add.address || !req.newaddr || req.add.prefix !== undefined) return;
  if (req.family === 'inet6') {
    req.add.prefix = 64;
    return;
  }
  // warn_nomask: not for IFF_LOOPBACK or IFF_POINTOPOINT interfaces.
  if (ctx.iface.cloner !== 'lo') {
    ctx.stderr.push('ifconfig: WARNING: setting interface address without mask is deprecated,\ndefault mask may not be correct.\n');
  }
  req.add.prefix = classfulPrefix(req.add.address);
}

/** The deferred delete (clearaddr): without a named address, inet deletes its first one. */
function clearAddress(ctx: ApplyContext, req: AddressRequest): void {
  const list = req.family === 'inet' ? ctx.iface.inet : ctx.iface.inet6;
  const target = req.remove ?? (req.family === 'inet' ? ctx.iface.inet[0]?.address : req.add?.address);
  const index = list.findIndex((a) => a.address === target);
  if (index >= 0) {
    list.splice(index, 1);
    return;
  }
  // EADDRNOTAVAIL is "no previous address" unless a delete was asked for.
  if (req.doalias < 0) fail("ioctl (SIOCDIFADDR): Can't assign requested address");
}

/**
 * Clears ND6 IFDISABLED and adds the EUI-64 link-local address when auto_linklocal allows
 * (in6_ifattach): what a manual IPv6 address does, and `-ifdisabled` on an up interface.
 */
export function enableInet6(state: SimState, vnet: string, iface: Iface, linkLocalFor: (iface: Iface) => string): void {
  iface.nd6Disabled = false;
  const autoLinkLocal = vnetOf(state, vnet).sysctls['net.inet6.ip6.auto_linklocal'] !== '0';
  if (autoLinkLocal && iface.cloner !== 'lo' && !iface.inet6.some((a) => a.linkLocal)) {
    iface.inet6.push({ address: linkLocalFor(iface), prefix: 64, linkLocal: true });
  }
}

function addInet6(ctx: ApplyContext, address: string, prefix: number): void {
  const iface = ctx.iface;
  if (iface.nd6Disabled) enableInet6(ctx.state, ctx.vnet, iface, ctx.linkLocalFor);
  const existing = iface.inet6.findIndex((a) => a.address === address);
  if (existing >= 0) iface.inet6[existing] = { address, prefix };
  else iface.inet6.push({ address, prefix });
}

/** The end of ifconfig(): postproc, then the delete, then the add (Perror texts are af-independent). */
export function applyAddressRequest(ctx: ApplyContext, req: AddressRequest): void {
  postprocess(ctx, req);
  if (req.clearaddr) clearAddress(ctx, req);
  const add = req.add;
  if (!req.newaddr || !add || !add.address) return;
  if (addressInUse(ctx, add.address)) fail('ioctl (SIOCAIFADDR): File exists');
  const prefix = add.prefix ?? 64;
  if (req.family === 'inet') {
    const existing = ctx.iface.inet.findIndex((a) => a.address === add.address);
    if (existing >= 0) ctx.iface.inet[existing] = { address: add.address, prefix };
    else ctx.iface.inet.push({ address: add.address, prefix });
  } else addInet6(ctx, add.address, prefix);
  ctx.bringUp(ctx.iface);
}
