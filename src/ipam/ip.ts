// IP addresses as (family, bigint) pairs. Formatting follows Go's net.IP.String(),
// because host-local names its lease files that way and leases must carry over
// between jailnet and the reference plugin.

export type Family = 4 | 6;

export interface IP {
  readonly family: Family;
  readonly value: bigint;
}

export interface Prefix {
  readonly ip: IP;
  readonly bits: number;
}

/** The family of an address or prefix as text (a colon means IPv6), without parsing it. */
export function familyOf(text: string): Family {
  return text.includes(':') ? 6 : 4;
}

export function bitLength(family: Family): number {
  return family === 4 ? 32 : 128;
}

function parseV4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    // Go (since 1.17) rejects leading zeros, which older tools read as octal.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseV6(text: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  let groups: string[];
  let tailV4: bigint | null = null;
  const lastColon = text.lastIndexOf(':');
  if (lastColon < 0) return null;
  const tail = text.slice(lastColon + 1);
  let head = text;
  if (tail.includes('.')) {
    tailV4 = parseV4(tail);
    if (tailV4 === null) return null;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const doubleColon = head.indexOf('::');
  if (doubleColon !== head.lastIndexOf('::')) return null;
  if (doubleColon >= 0) {
    const left = head.slice(0, doubleColon);
    const right = head.slice(doubleColon + 2);
    const leftGroups = left === '' ? [] : left.split(':');
    const rightGroups = right === '' ? [] : right.split(':');
    const missing = 8 - leftGroups.length - rightGroups.length;
    if (missing < 1) return null;
    groups = [...leftGroups, ...Array<string>(missing).fill('0'), ...rightGroups];
  } else {
    groups = head.split(':');
  }
  if (groups.length !== 8) return null;
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return null;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  if (tailV4 !== null) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/** Parses an address; an IPv4-mapped IPv6 address becomes IPv4, as in Go. */
export function parseIP(text: string): IP | null {
  if (text.includes(':')) {
    const value = parseV6(text);
    if (value === null) return null;
    if (value >> 32n === 0xffffn) return { family: 4, value: value & 0xffffffffn };
    return { family: 6, value };
  }
  const value = parseV4(text);
  return value === null ? null : { family: 4, value };
}

export function formatIP(ip: IP): string {
  if (ip.family === 4) {
    const v = ip.value;
    return [24n, 16n, 8n, 0n].map((shift) => String((v >> shift) & 0xffn)).join('.');
  }
  if (ip.value >> 32n === 0xffffn) return formatIP({ family: 4, value: ip.value & 0xffffffffn });
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (first on ties) of at least two zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses "addr/bits" keeping host bits, as CNI's types.ParseCIDR does. */
export function parsePrefix(text: string): Prefix | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const ip = parseIP(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(bitsText)) return null;
  const bits = Number(bitsText);
  // An IPv4-mapped prefix counts its bits against 128.
  const mappedV4 = ip.family === 4 && text.slice(0, slash).includes(':');
  if (mappedV4) {
    if (bits < 96 || bits > 128) return null;
    return { ip, bits: bits - 96 };
  }
  if (bits > bitLength(ip.family)) return null;
  return { ip, bits };
}

export function formatPrefix(prefix: Prefix): string {
  return `${formatIP(prefix.ip)}/${prefix.bits}`;
}

function hostMask(family: Family, bits: number): bigint {
  return (1n << BigInt(bitLength(family) - bits)) - 1n;
}

export function networkAddress(prefix: Prefix): IP {
  return { family: prefix.ip.family, value: prefix.ip.value & ~hostMask(prefix.ip.family, prefix.bits) };
}

/** The all-ones host address: IPv4's broadcast, IPv6's last address. */
export function lastAddress(prefix: Prefix): IP {
  return { family: prefix.ip.family, value: networkAddress(prefix).value | hostMask(prefix.ip.family, prefix.bits) };
}

/** `10.0.0.1/8`: an address with a prefix length, not the network it names. */
export function hostBitsSet(prefix: Prefix): boolean {
  return networkAddress(prefix).value !== prefix.ip.value;
}

export function prefixContains(prefix: Prefix, ip: IP): boolean {
  if (ip.family !== prefix.ip.family) return false;
  return (ip.value & ~hostMask(ip.family, prefix.bits)) === networkAddress(prefix).value;
}

export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  return prefixContains(a, networkAddress(b)) || prefixContains(b, networkAddress(a));
}

export function ipEqual(a: IP, b: IP): boolean {
  return a.family === b.family && a.value === b.value;
}

export function compareIP(a: IP, b: IP): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** The next address, wrapping within the family as Go's ip.NextIP does. */
export function nextIP(ip: IP): IP {
  const max = (1n << BigInt(bitLength(ip.family))) - 1n;
  return { family: ip.family, value: ip.value === max ? 0n : ip.value + 1n };
}

export function previousIP(ip: IP): IP {
  const max = (1n << BigInt(bitLength(ip.family))) - 1n;
  return { family: ip.family, value: ip.value === 0n ? max : ip.value - 1n };
}
