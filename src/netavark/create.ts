// `netavark create` (podman 6): podman sends the network it was asked for with what is in
// use (interfaces, names, subnets) and its subnet pools; netavark completes it with its
// defaults and checks, and podman stores what comes back (netavark-contract.md §2.4). As
// data: the host's interface names are read by the caller and passed in.
import { z } from 'zod';
import { formatIP, formatPrefix, networkAddress, parseIP, parsePrefix, prefixContains, prefixesOverlap, type Prefix } from '../ipam/ip.js';
import { isInterfaceName } from '../names.js';
import { ulaSubnet } from '../networks/create.js';
import { MAX_MTU, MIN_MTU } from '../plugins/bridge/config.js';
import { checkNetworkName } from './plan.js';
import { NetavarkError, NetworkSchema, readWire, type Network } from './wire.js';

const PoolSchema = z.looseObject({ base: z.string(), size: z.number().int().min(1).max(128) });

export const CreateInputSchema = z.looseObject({
  network: NetworkSchema,
  used: z.looseObject({
    interfaces: z.array(z.string()),
    names: z.record(z.string(), z.string()),
    subnets: z.array(z.string()),
  }),
  options: z.looseObject({
    subnet_pools: z.array(PoolSchema),
    default_interface_name: z.string().nullish(),
    check_used_subnets: z.boolean(),
  }),
});

export type CreateInput = z.infer<typeof CreateInputSchema>;

const fail = (message: string): never => {
  throw new NetavarkError(message);
};

/** docker's option names podman passes through, as netavark maps them. */
const DOCKER_OPTIONS: Record<string, string> = { 'com.docker.network.driver.mtu': 'mtu', 'com.docker.network.bridge.name': 'bridge_name' };

export function readCreateInput(text: string): CreateInput {
  return readWire(CreateInputSchema, text, 'failed to load network create input');
}

/** The first subnet of a pool's size inside its base that overlaps nothing in use. */
export function freeSubnet(pools: Array<{ base: string; size: number }>, used: Prefix[]): string | undefined {
  for (const pool of pools) {
    const base = parsePrefix(pool.base);
    if (!base || pool.size < base.bits || pool.size > (base.ip.family === 4 ? 32 : 128)) fail(`invalid subnet pool ${pool.base} size ${pool.size}`);
    const width = base!.ip.family === 4 ? 32 : 128;
    const step = 1n << BigInt(width - pool.size);
    const first = networkAddress(base!).value;
    const count = 1n << BigInt(pool.size - base!.bits);
    // Bounded: a pool of more than 65,536 subnets is searched in its first 65,536.
    for (let i = 0n; i < count && i < 65_536n; i++) {
      const candidate: Prefix = { ip: { family: base!.ip.family, value: first + i * step }, bits: pool.size };
      if (!used.some((u) => prefixesOverlap(u, candidate))) return formatPrefix(candidate);
    }
  }
  return undefined;
}

function bridgeName(input: CreateInput, hostLinks: string[], requested: string | undefined): string {
  const taken = new Set([...input.used.interfaces, ...hostLinks]);
  if (requested !== undefined && requested !== '') {
    if (!isInterfaceName(requested)) fail(`invalid bridge name ${JSON.stringify(requested.slice(0, 40))}`);
    if (input.used.interfaces.includes(requested)) fail(`bridge name ${requested} already in use`);
    return requested;
  }
  const stem = input.options.default_interface_name || 'podman';
  for (let n = 0; n < 10_000; n++) if (!taken.has(`${stem}${n}`)) return `${stem}${n}`;
  return fail(`no free bridge name ${stem}N left`);
}

/** The subnets given, checked, each with its gateway (the first address when none); one allocated when none is given. */
function subnetsOf(input: CreateInput, used: Prefix[]): Array<{ subnet: string; gateway: string }> {
  const net = input.network;
  const given: Array<{ subnet: string; gateway?: string; lease_range?: { start_ip?: string; end_ip?: string } }> = (net.subnets ?? []).map((s) => {
    const prefix = parsePrefix(s.subnet);
    if (!prefix) return fail(`invalid subnet ${s.subnet}`);
    const normal = { ip: networkAddress(prefix), bits: prefix.bits };
    if (input.options.check_used_subnets && used.some((u) => prefixesOverlap(u, normal))) fail(`subnet ${formatPrefix(normal)} is already used on the host or by another config`);
    if (normal.ip.family === 6 && !net.ipv6_enabled) fail(`network ${net.name} has IPv6 subnet ${s.subnet} but ipv6_enabled is false`);
    return { ...s, subnet: formatPrefix(normal) };
  });
  const driver = net.ipam_options?.driver ?? 'host-local';
  if (driver === 'host-local' && given.length === 0) {
    const free = freeSubnet(input.options.subnet_pools, used);
    if (!free) fail('could not find free subnet from subnet pools');
    given.unshift({ subnet: free! });
  }
  if (net.ipv6_enabled && driver === 'host-local' && !given.some((s) => s.subnet.includes(':'))) given.push({ subnet: ulaSubnet(net.id) });
  return given.map((s) => {
    const prefix = parsePrefix(s.subnet) as Prefix;
    const gateway = s.gateway ?? formatIP({ family: prefix.ip.family, value: networkAddress(prefix).value + 1n });
    const ip = parseIP(gateway);
    if (!ip || !prefixContains(prefix, ip)) fail(`gateway ${gateway} is not in subnet ${s.subnet}`);
    for (const bound of [s.lease_range?.start_ip, s.lease_range?.end_ip]) {
      const b = bound === undefined ? null : parseIP(bound);
      if (bound !== undefined && (!b || !prefixContains(prefix, b))) fail(`lease range address ${bound} is not in subnet ${s.subnet}`);
    }
    return { ...s, gateway };
  });
}

function optionsOf(net: Network): { options: Record<string, string>; bridge?: string } {
  const options: Record<string, string> = {};
  let bridge = net.network_interface;
  for (const [key, value] of Object.entries(net.options ?? {})) {
    const mapped = DOCKER_OPTIONS[key] ?? key;
    if (mapped === 'bridge_name') bridge = value;
    else options[mapped] = value;
  }
  if (options.mtu !== undefined && (!/^\d+$/.test(options.mtu) || Number(options.mtu) < MIN_MTU || Number(options.mtu) > MAX_MTU) && options.mtu !== '0') fail(`invalid mtu ${options.mtu}`);
  if (options.isolate !== undefined && !['true', 'false', 'strict'].includes(options.isolate)) fail(`invalid isolate option ${options.isolate}`);
  return { options, ...(bridge !== undefined ? { bridge } : {}) };
}

/** The network podman asked for, completed with netavark's defaults, or netavark's error for it. */
export function completeNetwork(input: CreateInput, hostLinks: string[], now: Date): Record<string, unknown> {
  const net = input.network;
  checkNetworkName(net.name);
  if (!/^[0-9a-f]{64}$/.test(net.id)) fail(`invalid network id ${JSON.stringify(net.id.slice(0, 70))}: 64 hex digits are needed`);
  if (Object.hasOwn(input.used.names, net.name)) fail(`network already exists ${net.name}`);
  if (net.driver !== 'bridge') fail(`unsupported driver ${net.driver}`);
  const driver = net.ipam_options?.driver ?? 'host-local';
  if (!['host-local', 'none', 'dhcp'].includes(driver)) fail(`unsupported ipam driver ${driver}`);
  const dnsEnabled = driver === 'none' ? false : net.dns_enabled;
  if ((net.network_dns_servers ?? []).length > 0 && !dnsEnabled) fail('cannot set network_dns_servers if dns is not enabled for the network');
  const { options, bridge } = optionsOf(net);
  const used = input.used.subnets.flatMap((s) => {
    const p = parsePrefix(s);
    return p ? [{ ip: networkAddress(p), bits: p.bits }] : [];
  });
  const subnets = subnetsOf({ ...input, network: { ...net, ipam_options: { ...net.ipam_options, driver } } }, used);
  for (const route of net.routes ?? []) {
    const p = parsePrefix(route.destination);
    if (!p || formatIP(networkAddress(p)) !== formatIP(p.ip)) fail(`invalid route destination ${route.destination}`);
    if (route.gateway !== undefined && parseIP(route.gateway)?.family !== p!.ip.family) fail(`invalid route gateway ${route.gateway}`);
  }
  return {
    ...net,
    network_interface: bridgeName(input, hostLinks, bridge),
    created: now.toISOString(),
    subnets,
    dns_enabled: dnsEnabled,
    ...(Object.keys(options).length > 0 ? { options } : {}),
    ipam_options: { ...net.ipam_options, driver },
  };
}
