// `jailnet network create`: a conflist in podman's format (bridge + host-local,
// portmap, firewall, tuning; cniVersion 0.4.0), so podman and jailnet share networks.
import { createHash } from 'node:crypto';
import { DNS_SEARCH_DOMAIN } from '../dns/aardvark.js';
import { formatIP, lastAddress, networkAddress, parseIP, parsePrefix, prefixContains, prefixesOverlap, type Prefix } from '../ipam/ip.js';
import { validateInterfaceName } from '../names.js';
import { MAX_MTU, MIN_MTU } from '../plugins/bridge/config.js';

export interface NetworkOptions {
  name: string;
  /** host-local's lease directory: jailnet keeps its networks' leases under its state dir. */
  dataDir: string;
  subnets: string[];
  gateway?: string;
  ipRange?: string;
  ipv6: boolean;
  bridge?: string;
  internal: boolean;
  mtu?: number;
  isolate: boolean;
  /** Container names through aardvark-dns (the dnsname plugin), as podman's networks have by default. */
  dns?: boolean;
}

export class NetworkError extends Error {}

/** Marks a list as written by jailnet: gc and `network rm` touch only these. */
export const JAILNET_MARK = 'jailnet';

function parseSubnet(text: string): Prefix {
  const prefix = parsePrefix(text);
  if (!prefix) throw new NetworkError(`invalid subnet "${text}"`);
  const network = networkAddress(prefix);
  if (network.value !== prefix.ip.value) throw new NetworkError(`subnet "${text}" has host bits set; did you mean ${formatIP(network)}/${prefix.bits}?`);
  return prefix;
}

/** The first free /24 of podman's FreeBSD pools (10.89.0.0/16 upwards) not used by another network. */
export function freeSubnet(used: Prefix[]): string {
  for (let second = 89; second < 256; second++) {
    for (let third = 0; third < 256; third++) {
      const candidate = parsePrefix(`10.${second}.${third}.0/24`) as Prefix;
      if (!used.some((u) => prefixesOverlap(u, candidate))) return `10.${second}.${third}.0/24`;
    }
  }
  throw new NetworkError('no free /24 left in 10.89.0.0-10.255.255.0');
}

/** A unique local IPv6 /64 derived from the network name. */
export function ulaSubnet(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  return `fd${hex.slice(0, 2)}:${hex.slice(2, 6)}:${hex.slice(6, 10)}::/64`;
}

/** The first and last allocatable address of `part` within `subnet` (never the network or IPv4 broadcast address). */
function allocatableBounds(subnet: Prefix, part: Prefix): { rangeStart: string; rangeEnd: string } {
  const width = part.ip.family === 4 ? 32 : 128;
  const first = networkAddress(part).value;
  const last = first + (1n << BigInt(width - part.bits)) - 1n;
  const subnetFirst = networkAddress(subnet).value;
  const subnetLast = subnetFirst + (1n << BigInt(width - subnet.bits)) - 1n;
  const start = first === subnetFirst ? first + 1n : first;
  const end = part.ip.family === 4 && last === subnetLast ? last - 1n : last;
  return { rangeStart: formatIP({ family: part.ip.family, value: start }), rangeEnd: formatIP({ family: part.ip.family, value: end }) };
}

export function bridgeNameFor(existing: string[]): string {
  for (let n = 0; ; n++) if (!existing.includes(`jailnet${n}`)) return `jailnet${n}`;
}

/** The subnets asked for: valid, apart from each other and from every other network's. */
function checkedSubnets(requested: string[], usedSubnets: Prefix[]): string[] {
  const prefixes: Prefix[] = [];
  for (const text of requested) {
    const prefix = parseSubnet(text);
    if (usedSubnets.some((u) => prefixesOverlap(u, prefix))) throw new NetworkError(`subnet ${text} overlaps another network`);
    const clash = prefixes.findIndex((p) => prefixesOverlap(p, prefix));
    if (clash >= 0) throw new NetworkError(`subnets ${requested[clash]} and ${text} overlap`);
    prefixes.push(prefix);
  }
  return [...requested];
}

function checkGateway(gateway: string | undefined, subnets: string[]): void {
  if (gateway === undefined) return;
  const ip = parseIP(gateway);
  if (!ip) throw new NetworkError(`invalid gateway "${gateway}"`);
  const own = subnets.map((s) => parsePrefix(s) as Prefix).filter((p) => p.ip.family === ip.family);
  if (!own.some((p) => prefixContains(p, ip))) throw new NetworkError(`gateway ${gateway} is not inside ${own.length > 0 ? own.map((p) => `${formatIP(p.ip)}/${p.bits}`).join(' or ') : 'any subnet of its family'}`);
  const prefix = own.find((p) => prefixContains(p, ip)) as Prefix;
  if (ip.value === networkAddress(prefix).value) throw new NetworkError(`gateway ${gateway} is the network address of its subnet`);
  if (ip.family === 4 && ip.value === lastAddress(prefix).value) throw new NetworkError(`gateway ${gateway} is the broadcast address of its subnet`);
}

function checkBridge(bridge: string, usedBridges: string[]): string {
  validateInterfaceName(bridge);
  if (/^lo\d*$/.test(bridge)) throw new NetworkError(`--bridge ${bridge} is the loopback interface, not a bridge`);
  if (usedBridges.includes(bridge)) throw new NetworkError(`bridge ${bridge} belongs to another network`);
  return bridge;
}

export function networkConflist(options: NetworkOptions, usedSubnets: Prefix[], usedBridges: string[]): Record<string, unknown> {
  if (options.mtu !== undefined && !(Number.isInteger(options.mtu) && options.mtu >= MIN_MTU && options.mtu <= MAX_MTU)) {
    throw new NetworkError(`--mtu takes an integer from ${MIN_MTU} to ${MAX_MTU}`);
  }
  const subnets = checkedSubnets(options.subnets, usedSubnets);
  if (!subnets.some((s) => !s.includes(':'))) subnets.unshift(freeSubnet(usedSubnets));
  if (options.ipv6 && !subnets.some((s) => s.includes(':'))) subnets.push(ulaSubnet(options.name));
  checkGateway(options.gateway, subnets);
  if (options.dns && options.internal) throw new NetworkError('--dns needs the gateway --internal leaves out: aardvark-dns listens on it');
  // An empty value is an error (checkBridge, parseSubnet), not the option left out.
  const bridge = options.bridge !== undefined ? checkBridge(options.bridge, usedBridges) : bridgeNameFor(usedBridges);
  const ipRange = options.ipRange !== undefined ? parseSubnet(options.ipRange) : undefined;
  const ranges = subnets.map((subnet) => {
    const range: Record<string, string> = { subnet };
    const prefix = parsePrefix(subnet) as Prefix;
    if (options.gateway && parseIP(options.gateway)?.family === prefix.ip.family) range.gateway = options.gateway;
    if (ipRange && ipRange.ip.family === prefix.ip.family) {
      if (!prefixContains(prefix, ipRange.ip) || ipRange.bits < prefix.bits) throw new NetworkError(`--ip-range ${options.ipRange} is not inside ${subnet}`);
      Object.assign(range, allocatableBounds(prefix, ipRange));
    }
    return [range];
  });
  const routes = options.internal ? [] : subnets.map((s) => ({ dst: s.includes(':') ? '::/0' : '0.0.0.0/0' }));
  return {
    cniVersion: '0.4.0',
    name: options.name,
    [JAILNET_MARK]: { created: new Date().toISOString() },
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: !options.internal,
        ipMasq: !options.internal,
        hairpinMode: true,
        ...(options.mtu ? { mtu: options.mtu } : {}),
        capabilities: { ips: true },
        ipam: { type: 'host-local', dataDir: options.dataDir, routes, ranges },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall', ...(options.isolate ? { ingressPolicy: 'same-bridge' } : {}) },
      { type: 'tuning' },
      // As podman's CNI backend writes it (libnetwork/cni/cni_conversion.go).
      ...(options.dns ? [{ type: 'dnsname', domainName: DNS_SEARCH_DOMAIN, capabilities: { aliases: true } }] : []),
    ],
  };
}
