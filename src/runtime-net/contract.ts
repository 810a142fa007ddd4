// The kata-network JSON contract (reference: runtime-network-api.md §1.2–1.4): the
// Interface and Route objects as the openEuler runtime decodes them (Go's JSON decoder,
// so keys match case-insensitively and unknown keys are ignored), their validation
// rules, and the bytes each command prints. Pure: text in, data or text out.
import { parseIP, parsePrefix } from '../ipam/ip.js';

/** A failure of the contract's backend: the command prints its failure stdout (`null`, or del-iface's echo) first. */
export class RuntimeNetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RuntimeNetError';
  }
}

export interface IPAddress {
  /** 0 where the caller's input is echoed, 2 (AF_INET) where jailnet reports what it set, as the agent does. */
  family: number;
  address: string;
  mask: string;
}

export interface Interface {
  device: string;
  name: string;
  /** A JSON `null` entry stays null here: the validation refuses it with its own message. */
  ipAddresses: Array<IPAddress | null>;
  mtu: number;
  rawFlags: number;
  hwAddr: string;
  pciAddr: string;
  linkType: string;
  vhostUserSocket: string;
  queues: number;
}

export interface Route {
  dest: string;
  gateway: string;
  device: string;
  source: string;
  scope: number;
}

type Kind = 'string' | 'number';
type Fields<T> = { [K in keyof T]?: Kind };

const INTERFACE_FIELDS: Fields<Interface> & Record<string, Kind> = {
  device: 'string', name: 'string', mtu: 'number', rawFlags: 'number', hwAddr: 'string',
  pciAddr: 'string', linkType: 'string', vhostUserSocket: 'string', queues: 'number',
};
const ADDRESS_FIELDS: Record<string, Kind> = { address: 'string', mask: 'string' };
const ROUTE_FIELDS: Fields<Route> & Record<string, Kind> = { dest: 'string', gateway: 'string', device: 'string', source: 'string', scope: 'number' };

/** Go's decoder: an exact key first, then any key equal under case folding. */
function lookup(object: Record<string, unknown>, field: string): unknown {
  if (field in object) return object[field];
  const key = Object.keys(object).find((k) => k.toLowerCase() === field.toLowerCase());
  return key === undefined ? undefined : object[key];
}

function decodeFields(object: unknown, fields: Record<string, Kind>, what: string): Record<string, string | number> {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) throw new Error(`json: cannot unmarshal ${jsonKind(object)} into Go value of type ${what}`);
  const out: Record<string, string | number> = {};
  for (const [field, kind] of Object.entries(fields)) {
    const value = lookup(object as Record<string, unknown>, field);
    if (value === undefined || value === null) {
      out[field] = kind === 'string' ? '' : 0;
      continue;
    }
    const fits = kind === 'string' ? typeof value === 'string' : typeof value === 'number' && Number.isInteger(value) && value >= 0;
    if (!fits) throw new Error(`json: cannot unmarshal ${jsonKind(value)} into Go struct field ${what}.${field} of type ${kind === 'string' ? 'string' : 'uint'}`);
    out[field] = value as string | number;
  }
  return out;
}

function jsonKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'object' : typeof value;
}

function decodeAddresses(value: unknown): Array<IPAddress | null> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new Error(`json: cannot unmarshal ${jsonKind(value)} into Go struct field Interface.IPAddresses of type []*vcTypes.IPAddress`);
  return value.map((entry) => {
    if (entry === null) return null;
    const fields = decodeFields(entry, ADDRESS_FIELDS, 'IPAddress');
    return { family: 0, address: String(fields.address), mask: String(fields.mask) };
  });
}

/** One Interface object from the command's input text; a decode failure is an early failure (nothing on stdout). */
export function decodeInterface(text: string): Interface {
  const parsed = parseJson(text);
  const fields = decodeFields(parsed, INTERFACE_FIELDS, 'vcTypes.Interface');
  return { ...(fields as unknown as Omit<Interface, 'ipAddresses'>), ipAddresses: decodeAddresses(lookup(parsed as Record<string, unknown>, 'IPAddresses')) };
}

export function decodeRoute(value: unknown): Route {
  return decodeFields(value, ROUTE_FIELDS, 'vcTypes.Route') as unknown as Route;
}

export function decodeRouteText(text: string): Route {
  return decodeRoute(parseJson(text));
}

/** update-routes: an array of Routes (JSON null reads as no route at all). */
export function decodeRoutes(text: string): Route[] {
  const parsed = parseJson(text);
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) throw new Error(`json: cannot unmarshal ${jsonKind(parsed)} into Go value of type []*vcTypes.Route`);
  return parsed.map(decodeRoute);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`invalid JSON input: ${(error as Error).message}`);
  }
}

// Validation (§1.3), before anything touches the host.

const NAME_RULE = /^[A-Za-z][A-Za-z0-9_\-.]*$/;
/** IFNAMSIZ is 16 with the terminating NUL, on FreeBSD as on Linux. */
const MAX_IFNAME = 15;
export const MTU_MIN = 46;
export const MTU_MAX = 9600;
/** Go's net.ParseIP input cap the runtime puts on addresses, gateways and sources. */
const MAX_ADDRESS_TEXT = 18;

/** verifyInterfaceName: trimmed, 1–15 characters, a letter then letters, digits, `_`, `-`, `.`. */
export function checkInterfaceName(name: string, what = 'interface name'): void {
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > MAX_IFNAME) throw new RuntimeNetError(`${what} "${name}" must be 1 to ${MAX_IFNAME} characters long`);
  if (!NAME_RULE.test(trimmed)) throw new RuntimeNetError(`${what} "${name}" is invalid: it starts with a letter, then letters, digits, "_", "-" or "."`);
}

/** The MAC an interface of a jail can own: six octets, `:` or `-` separated, unicast and not zero. */
export function checkHwAddr(mac: string): string {
  const octets = /^[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}$/.test(mac) ? mac.split(/[:-]/).map((o) => parseInt(o, 16)) : undefined;
  if (!octets) throw new RuntimeNetError(`invalid hwAddr "${mac}": six hex octets separated by ":" are needed`);
  if ((octets[0] as number) & 1 || octets.every((o) => o === 0)) throw new RuntimeNetError(`invalid hwAddr "${mac}": a unicast address is needed (not zero, multicast or broadcast)`);
  return octets.map((o) => o.toString(16).padStart(2, '0')).join(':');
}

/** The one address as `address/mask`, checked as the runtime checks it, and the mask as a prefix length of its family. */
export function checkAddress(entry: IPAddress | null): string {
  if (entry === null) throw new RuntimeNetError('an IP address of the interface is null');
  const ip = entry.address.length <= MAX_ADDRESS_TEXT ? parseIP(entry.address) : null;
  if (!ip) throw new RuntimeNetError(`invalid IP address "${entry.address}"`);
  const max = ip.family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(entry.mask) || Number(entry.mask) > max) throw new RuntimeNetError(`invalid mask "${entry.mask}" of ${entry.address}: a prefix length from 0 to ${max} is needed`);
  return `${entry.address}/${Number(entry.mask)}`;
}

/** validInterface, and what a jail cannot do that a VM can. */
export function checkNewInterface(iface: Interface): void {
  if (iface.device === '') throw new RuntimeNetError('device name should not be empty: it is the host side of the interface');
  checkInterfaceName(iface.device, 'device name');
  if (iface.name === '' || iface.mtu === 0 || iface.hwAddr === '') throw new RuntimeNetError('name/mtu/hwaddr of interface must be specified');
  checkInterfaceName(iface.name);
  checkHwAddr(iface.hwAddr);
  if (iface.mtu < MTU_MIN || iface.mtu > MTU_MAX) throw new RuntimeNetError(`invalid input of MTU : ${iface.mtu}`);
  if (iface.vhostUserSocket !== '') throw new RuntimeNetError('vhostUserSocket is for a VM\'s virtio-net (DPDK vhost-user); a jail\'s interface cannot use one');
  if (iface.queues > 1) throw new RuntimeNetError(`queues ${iface.queues}: a jail's interface has one queue; multi-queue is for a VM's virtio-net`);
  if (!['tap', 'epair', 'veth'].includes(iface.linkType)) throw new RuntimeNetError(`unsupported linkType "${iface.linkType}": use tap, or epair (veth on Linux)`);
  if (iface.ipAddresses.length > 1) throw new RuntimeNetError('only one IP address is supported currently');
  iface.ipAddresses.forEach(checkAddress);
}

/** checkUpdateInterfaceInfo: only `name` and `IPAddresses` may be set. */
export function checkInterfaceUpdate(iface: Interface): void {
  if (iface.mtu !== 0 || iface.queues !== 0 || iface.device !== '' || iface.vhostUserSocket !== '' || iface.linkType !== '' || iface.hwAddr !== '') {
    throw new RuntimeNetError('update-iface takes only name and IPAddresses: mtu, queues, device, vhostUserSocket, linkType and hwAddr must be empty');
  }
  checkInterfaceName(iface.name);
  if (iface.ipAddresses.length > 1) throw new RuntimeNetError('only one IP address is supported currently');
  iface.ipAddresses.forEach(checkAddress);
}

/** A route as jailnet keeps and applies it: dest normalised (`default`, or a prefix), family known. */
export interface RouteSpec {
  dest: string;
  gateway?: string;
  device: string;
  family: 4 | 6;
}

function checkRouteAddress(text: string, what: string): 4 | 6 {
  const ip = text.length <= (text.includes(':') ? 39 : MAX_ADDRESS_TEXT) ? parseIP(text) : null;
  if (!ip) throw new RuntimeNetError(`invalid ${what} "${text}"`);
  return ip.family;
}

/** `a.b.c.d` → `a.b.c.d/32` (and an IPv6 address → /128), as `ip route add` reads it. */
export function normaliseDest(dest: string): { dest: string; family?: 4 | 6 } {
  if (dest === 'default' || dest === '') return { dest: 'default' };
  const withLength = dest.includes('/') ? dest : `${dest}/${dest.includes(':') ? 128 : 32}`;
  const prefix = withLength.length <= (dest.includes(':') ? 43 : MAX_ADDRESS_TEXT) ? parsePrefix(withLength) : null;
  if (!prefix) throw new RuntimeNetError(`invalid destination "${dest}"`);
  return { dest: withLength, family: prefix.ip.family };
}

/** generateAddRoute: device and dest required, `default` needs a gateway, addresses checked; IPv6 beyond the contract. */
export function checkAddRoute(route: Route): RouteSpec {
  if (route.device === '' || route.dest === '') throw new RuntimeNetError('device and destination must be specified when adding a route');
  checkInterfaceName(route.device, 'device name');
  if (route.dest === 'default' && route.gateway === '') throw new RuntimeNetError('a default route needs a gateway');
  const { dest, family } = normaliseDest(route.dest);
  const gatewayFamily = route.gateway ? checkRouteAddress(route.gateway, 'gateway') : undefined;
  if (route.source) checkRouteAddress(route.source, 'source');
  const chosen = family ?? gatewayFamily ?? 4;
  if (gatewayFamily !== undefined && gatewayFamily !== chosen) throw new RuntimeNetError(`gateway ${route.gateway} is not of the family of ${route.dest}`);
  return { dest, device: route.device.trim(), family: chosen, ...(route.gateway ? { gateway: route.gateway } : {}) };
}

/** generateRmRoute: only dest is needed; device and gateway, when given, narrow the match. */
export function checkDelRoute(route: Route): { dest: string; gateway?: string; device?: string } {
  if (route.dest === '') throw new RuntimeNetError('destination must be specified when remove route.');
  if (route.device) checkInterfaceName(route.device, 'device name');
  if (route.gateway) checkRouteAddress(route.gateway, 'gateway');
  return { dest: normaliseDest(route.dest).dest, ...(route.gateway ? { gateway: route.gateway } : {}), ...(route.device ? { device: route.device.trim() } : {}) };
}

// Output (§1.4): what each command prints, as Go's json.Encoder writes it (one line).

function addressesJson(addresses: IPAddress[]): Array<Record<string, unknown>> {
  return addresses.map((a) => ({ Family: a.family, Address: a.address, Mask: a.mask }));
}

/**
 * The Interface as Go marshals it: its fields in struct order, each left out when empty
 * (omitempty). `echo` is the caller's input as del-iface prints it on failure.
 */
export function interfaceJson(iface: Interface, options: { echo?: boolean } = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (key: string, value: unknown) => {
    if (value !== '' && value !== 0 && value !== undefined && !(Array.isArray(value) && value.length === 0)) out[key] = value;
  };
  put('device', iface.device);
  put('name', iface.name);
  put('IPAddresses', addressesJson(iface.ipAddresses.filter((a): a is IPAddress => a !== null)));
  put('mtu', iface.mtu);
  put('rawFlags', iface.rawFlags);
  put('hwAddr', iface.hwAddr);
  put('pciAddr', iface.pciAddr);
  if (options.echo) {
    put('linkType', iface.linkType);
    put('vhostUserSocket', iface.vhostUserSocket);
  }
  put('queues', iface.queues);
  return out;
}

/** `{dest, gateway, device}` with an empty gateway left out, as add-route, del-route and list-routes print routes. */
export function routeJson(route: { dest: string; gateway?: string; device: string }): Record<string, string> {
  return { dest: route.dest, ...(route.gateway ? { gateway: route.gateway } : {}), device: route.device };
}

/** Go's json.Encoder: compact, `<`, `>` and `&` escaped, one newline. */
export function encode(value: unknown): string {
  return `${JSON.stringify(value).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)}\n`;
}
