// Names that reach jail(8), ifconfig(8) or a file path are checked before any host
// command. Pod and container names become jail name components, where `.` means
// hierarchy, so they have none; nor `/`, whitespace, control or shell characters.
import { randomBytes } from 'node:crypto';

export class NameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NameError';
  }
}

const COMPONENT = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
export const MAX_NAME = 63;

/** A name as an error message shows it: quoted and escaped, never too long for one line. */
export function shown(name: string): string {
  return JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name);
}

function check(kind: string, name: string, max: number): string {
  if (name === '') throw new NameError(`${kind} name is empty`);
  if (name.length > max) throw new NameError(`${kind} name ${shown(name)} is longer than ${max} characters`);
  if (name.includes('.')) throw new NameError(`${kind} name ${shown(name)} contains "." (it means hierarchy in jail names)`);
  if (!COMPONENT.test(name)) {
    throw new NameError(`${kind} name ${shown(name)} may hold only letters, digits, "_" and "-", and starts with a letter or digit`);
  }
  if (/^\d+$/.test(name)) throw new NameError(`${kind} name ${shown(name)} is a number, which jail(8) takes for a jid`);
  return name;
}

export function validatePodName(name: string): string {
  return check('pod', name, MAX_NAME);
}

export function validateContainerName(name: string): string {
  return check('container', name, MAX_NAME);
}

export function validateNetworkName(name: string): string {
  return check('network', name, MAX_NAME);
}

const INTERFACE_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;
const MAC_ADDRESS = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

/** A FreeBSD interface name: IFNAMSIZ (15 usable characters), no "/" or whitespace. */
export function isInterfaceName(name: string): boolean {
  return INTERFACE_NAME.test(name);
}

export function validateInterfaceName(name: string): string {
  if (!isInterfaceName(name)) throw new NameError(`interface name ${shown(name)} is not a valid FreeBSD interface name (at most 15 characters)`);
  return name;
}

/** Six colon-separated hex octets, as ifconfig's `ether` takes them. */
export function isMacAddress(mac: string): boolean {
  return MAC_ADDRESS.test(mac);
}

/**
 * An address an interface may own: not all zeros, and not a group address (the I/G bit,
 * the low bit of the first octet, marks multicast and broadcast; IEEE 802-2014 §8.2).
 */
export function isUnicastMac(mac: string): boolean {
  if (!isMacAddress(mac)) return false;
  const octets = mac.split(':').map((o) => parseInt(o, 16));
  return (octets[0]! & 1) === 0 && octets.some((o) => o !== 0);
}

/** A link-level address checked where it enters an argv (ifconfig `ether`, ip `address`). */
export function validateMacAddress(mac: string): string {
  if (!isMacAddress(mac)) throw new NameError(`invalid link-level address ${shown(mac)}`);
  return mac;
}

/**
 * A random unicast address with the locally administered bit set (IEEE 802-2014 §8.4), as
 * Linux's eth_random_addr() makes one for a veth: for an interface whose address jailnet
 * sets itself, so that it knows the address without reading it back.
 */
export function randomLocalMac(): string {
  const octets = randomBytes(6);
  octets[0] = (octets[0]! & 0xfe) | 0x02;
  return [...octets].map((o) => o.toString(16).padStart(2, '0')).join(':');
}

/** A name aardvark-dns can serve as one DNS label: no dot (it would read as a subdomain), space, comma or newline; at most 63 bytes. */
const DNS_LABEL = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/;

export function isDnsLabel(name: string): boolean {
  return DNS_LABEL.test(name);
}

export function validateDnsAlias(name: string): string {
  if (!isDnsLabel(name)) throw new NameError(`alias ${shown(name)} is not a DNS label (letters, digits, "_" and "-", at most 63 characters, no dot)`);
  return name;
}
