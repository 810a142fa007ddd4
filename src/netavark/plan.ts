// What a netavark setup or teardown asks of jailnet, as data: for each network of the
// container, the CNI chain jailnet's own plugins run (bridge with podman's addresses through
// the static IPAM, portmap, firewall) and the capability arguments of this container. Every
// check happens here, before the first host command: a setup podman sends with one bad
// network changes nothing on any network.
import type { PortMapping } from '../cni/port-mapping.js';
import { parseConfList, type ConfList } from '../cni/conflist.js';
import { familyOf, formatIP, formatPrefix, networkAddress, parseIP, parsePrefix, prefixContains, type Prefix } from '../ipam/ip.js';
import { isInterfaceName, isUnicastMac } from '../names.js';
import { MAX_MTU, MIN_MTU } from '../plugins/bridge/config.js';
import { checkDnsName, checkNoLoop, DnsError, type DnsEntry, type NetworkDns } from '../dns/aardvark.js';
import { NetavarkError, type NamedPerNetwork, type Network, type NetworkOptions, type PortMappingWire } from './wire.js';

/** netavark's network names ([a-zA-Z0-9][a-zA-Z0-9_.-]*), which become file names in jailnet's records. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,99}$/;
/** Container IDs reach file names and the aardvark files: no space, comma, newline or `/`. */
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);
/** The addresses that mean "every address" in a mapping's host_ip. */
const ANY_HOST_IP = new Set(['', '0.0.0.0', '::']);

export interface NetworkAttachment {
  network: string;
  ifname: string;
  bridge: string;
  /** The network's names through aardvark-dns (dns_enabled with a gateway), and this container's entry. */
  dns?: { network: NetworkDns; entry: DnsEntry };
  /** The chain jailnet runs for this network (bridge, portmap, firewall). */
  list: ConfList;
  /** This container's runtimeConfig: its port mappings and MAC. */
  capabilityArgs: Record<string, unknown>;
}

export interface SetupPlan {
  containerId: string;
  attachments: NetworkAttachment[];
}

const fail = (message: string): never => {
  throw new NetavarkError(message);
};

const boolOption = (value: string | undefined, key: string): boolean => {
  if (value === undefined || value === '') return false;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  return fail(`invalid value for option ${key}: ${value}, expected true or false`);
};

interface BridgeOptions {
  mtu?: number;
  isolate: boolean;
  noDefaultRoute: boolean;
}

/** The bridge driver's options (netavark's bridge.rs); those FreeBSD's if_bridge cannot honour are refused. */
function bridgeOptions(network: Network): BridgeOptions {
  const options = network.options ?? {};
  for (const key of ['vlan', 'vrf']) {
    if (options[key] !== undefined && options[key] !== '' && options[key] !== '0') fail(`unsupported bridge option ${key}: jailnet's bridges cannot filter VLANs or use a VRF`);
  }
  if (options.mode !== undefined && options.mode !== '' && options.mode !== 'managed') fail(`unsupported bridge mode ${options.mode}`);
  let mtu: number | undefined;
  if (options.mtu !== undefined && options.mtu !== '' && options.mtu !== '0') {
    mtu = Number(options.mtu);
    if (!/^\d+$/.test(options.mtu) || mtu < MIN_MTU || mtu > MAX_MTU) fail(`invalid mtu ${options.mtu}: expected ${MIN_MTU} to ${MAX_MTU}`);
  }
  if (options.metric !== undefined && !/^\d{1,10}$/.test(options.metric)) fail(`invalid metric ${options.metric}`);
  const isolate = options.isolate ?? '';
  if (!['', 'true', 'false', 'strict', '1', '0'].includes(isolate)) fail(`invalid value for option isolate: ${isolate}, expected true, false or strict`);
  // jailnet's isolation keeps every other network out, as netavark's `strict` does (its `true`
  // keeps out only other isolated networks): both are this one policy here.
  return { ...(mtu ? { mtu } : {}), isolate: ['true', 'strict', '1'].includes(isolate), noDefaultRoute: boolOption(options.no_default_route, 'no_default_route') };
}

interface Subnet {
  prefix: Prefix;
  gateway?: string;
}

function subnetsOf(network: Network): Subnet[] {
  return (network.subnets ?? []).map(({ subnet, gateway }) => {
    const prefix = parsePrefix(subnet);
    if (!prefix || formatIP(networkAddress(prefix)) !== formatIP(prefix.ip)) return fail(`invalid subnet ${subnet} in network ${network.name}`);
    if (prefix.ip.family === 6 && !network.ipv6_enabled) fail(`network ${network.name} has IPv6 subnet ${subnet} but ipv6_enabled is false`);
    if (gateway !== undefined) {
      const ip = parseIP(gateway);
      if (!ip || !prefixContains(prefix, ip)) fail(`gateway ${gateway} is not inside subnet ${subnet}`);
    }
    return { prefix, ...(gateway !== undefined ? { gateway } : {}) };
  });
}

/** podman's static_ips, each with its subnet's prefix and gateway; podman allocated them, jailnet never does. */
function staticAddresses(network: Network, entry: NamedPerNetwork, subnets: Subnet[]): Array<{ address: string; gateway?: string }> {
  const driver = network.ipam_options?.driver ?? '';
  if (driver !== '' && driver !== 'host-local') fail(`unsupported ipam driver ${driver}`);
  const ips = entry.static_ips ?? [];
  if (ips.length === 0) fail('no static ips provided');
  return ips.map((text) => {
    const ip = parseIP(text);
    if (!ip || text.includes('/')) return fail(`invalid static ip ${text}`);
    const subnet = subnets.find((s) => prefixContains(s.prefix, ip));
    if (!subnet) return fail(`no subnet of network ${network.name} holds static ip ${text}`);
    if (subnet.gateway === formatIP(ip)) fail(`static ip ${text} is the gateway of network ${network.name}`);
    return { address: `${formatIP(ip)}/${subnet.prefix.bits}`, ...(subnet.gateway ? { gateway: subnet.gateway } : {}) };
  });
}

/**
 * The default route of each family (unless internal or no_default_route), then the network's
 * own routes. One default route per family: the first network of the setup that gives one
 * keeps it (`defaultsGiven`), as netavark and the reference plugins do; a network connected
 * later finds the route there, and the drivers keep the one there.
 */
function routesOf(network: Network, addresses: Array<{ address: string; gateway?: string }>, options: BridgeOptions, defaultsGiven: Set<string>): Array<{ dst: string; gw?: string }> {
  const routes: Array<{ dst: string; gw?: string }> = [];
  if (!network.internal && !options.noDefaultRoute) {
    for (const { address, gateway } of addresses) {
      const dst = familyOf(address) === 4 ? '0.0.0.0/0' : '::/0';
      if (gateway && !defaultsGiven.has(dst)) routes.push({ dst, gw: gateway });
      defaultsGiven.add(dst);
    }
  }
  for (const route of network.routes ?? []) {
    const prefix = parsePrefix(route.destination);
    if (!prefix || formatPrefix({ ip: networkAddress(prefix), bits: prefix.bits }) !== formatPrefix(prefix)) fail(`invalid route destination ${route.destination}`);
    if (route.route_type !== undefined && route.route_type !== 'unicast') fail(`unsupported route type ${route.route_type}`);
    if (route.gateway !== undefined && (!parseIP(route.gateway) || familyOf(route.gateway) !== prefix!.ip.family)) fail(`invalid route gateway ${route.gateway} for ${route.destination}`);
    routes.push({ dst: route.destination, ...(route.gateway ? { gw: route.gateway } : {}) });
  }
  return routes;
}

/** A MAC with `:` or `-` between its octets, as podman accepts one; unicast only. */
function staticMac(mac: string | undefined): string | undefined {
  if (mac === undefined || mac === '') return undefined;
  const colons = mac.replace(/-/g, ':').toLowerCase();
  if (!isUnicastMac(colons)) fail(`invalid static mac ${mac}`);
  return colons;
}

/** The container's mappings, checked once: ports 1–65535, ranges inside them, known protocols, no host port twice. */
export function checkPortMappings(mappings: PortMappingWire[]): PortMappingWire[] {
  const taken: Array<{ protocol: string; ip: string; from: number; to: number }> = [];
  return mappings.map((m) => {
    const range = m.range === 0 ? 1 : m.range;
    if (!PROTOCOLS.has(m.protocol)) fail(`invalid protocol ${m.protocol}: expected tcp, udp or sctp`);
    if (m.host_port === 0 || m.container_port === 0) fail(`port 0 is not a valid port (host_port ${m.host_port}, container_port ${m.container_port})`);
    if (m.host_port + range - 1 > 65535 || m.container_port + range - 1 > 65535) fail(`port range ${m.host_port}-${m.host_port + range - 1} (container ${m.container_port}) goes past 65535`);
    if (!ANY_HOST_IP.has(m.host_ip) && !parseIP(m.host_ip)) fail(`invalid host_ip ${m.host_ip}`);
    const ip = ANY_HOST_IP.has(m.host_ip) ? '' : m.host_ip;
    const clash = taken.find((t) => t.protocol === m.protocol && (t.ip === '' || ip === '' || t.ip === ip) && t.from <= m.host_port + range - 1 && m.host_port <= t.to);
    if (clash) fail(`host port ${m.host_port}/${m.protocol} is mapped twice`);
    taken.push({ protocol: m.protocol, ip, from: m.host_port, to: m.host_port + range - 1 });
    return { ...m, host_ip: ip, range };
  });
}

/** CNI portMappings (one per port of a range) for the mappings whose host_ip family this network's addresses have. */
function cniMappings(mappings: PortMappingWire[], families: Set<4 | 6>): PortMapping[] {
  return mappings
    .filter((m) => m.host_ip === '' || families.has(familyOf(m.host_ip)))
    .flatMap((m) =>
      Array.from({ length: m.range }, (_, i) => ({
        hostPort: m.host_port + i,
        containerPort: m.container_port + i,
        protocol: m.protocol as PortMapping['protocol'],
        ...(m.host_ip ? { hostIP: m.host_ip } : {}),
      })),
    );
}

/** A network name as netavark takes one: it becomes a file name in jailnet's records and aardvark's directory. */
export function checkNetworkName(name: string): string {
  if (!NETWORK_NAME.test(name)) fail(`invalid network name ${JSON.stringify(name.slice(0, 80))}`);
  return name;
}

function networkOf(options: NetworkOptions, name: string): Network {
  checkNetworkName(name);
  const network = options.network_info[name];
  if (!network) return fail(`no network_info for network ${name}`);
  if (network.name !== name) fail(`network_info for ${name} names network ${network.name}`);
  if (network.driver !== 'bridge') fail(`unsupported driver ${network.driver}`);
  return network;
}

function interfaceName(name: string | undefined, what: string): string {
  if (name === undefined || name === '') return fail(`${what} is missing`);
  if (!isInterfaceName(name)) fail(`invalid ${what} ${JSON.stringify(name.slice(0, 40))}: at most 15 letters, digits, '.', '_' or '-', starting with a letter`);
  return name;
}

/** A DNS name problem said as netavark's other input errors are. */
function dnsChecked<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw error instanceof DnsError ? new NetavarkError(error.message) : error;
  }
}

/** With dns_enabled and a gateway: aardvark's view of the network and this container's line in it, checked now. */
function dnsOf(options: NetworkOptions, network: Network, entry: NamedPerNetwork, subnets: Subnet[], addresses: Array<{ address: string }>): Pick<NetworkAttachment, 'dns'> {
  const listen = subnets.flatMap((s) => (s.gateway ? [s.gateway] : []));
  if (!network.dns_enabled || listen.length === 0) return {};
  return dnsChecked(() => {
    const dns: NetworkDns = { network: network.name, internal: network.internal, listen, servers: network.network_dns_servers ?? [] };
    const servers = options.dns_servers ?? [];
    checkNoLoop(dns, servers);
    const names = [options.container_name, ...(entry.aliases ?? [])].map((n) => checkDnsName(n, 'container name or alias'));
    const bare = addresses.map((a) => a.address.split('/')[0] as string);
    // Checked as CONTAINER_ID already: no space, comma or newline can reach aardvark's file.
    const containerId = options.container_id.toLowerCase();
    return { dns: { network: dns, entry: { containerId, ipv4: bare.filter((a) => familyOf(a) === 4), ipv6: bare.filter((a) => familyOf(a) === 6), names: [...new Set(names)], servers } } };
  });
}

/** The chain of one network: the list's bytes are what the result cache keeps, as libcni keeps a conflist's. */
function chainOf(network: Network, bridge: string, options: BridgeOptions, addresses: Array<{ address: string; gateway?: string }>, routes: Array<{ dst: string; gw?: string }>, firewall: boolean): ConfList {
  const filtering = [
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall', ingressPolicy: options.isolate ? 'same-bridge' : 'open' },
  ];
  const list = {
    cniVersion: '1.0.0',
    name: network.name,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: firewall && !network.internal,
        hairpinMode: true,
        ...(options.mtu ? { mtu: options.mtu } : {}),
        capabilities: { mac: true },
        ipam: { type: 'static', addresses, routes },
      },
      // NETAVARK_FW=none: no NAT, no published port, no isolation, as netavark's none driver.
      ...(firewall ? filtering : []),
    ],
  };
  return parseConfList(Buffer.from(JSON.stringify(list)), `of network ${network.name}`);
}

function attachmentOf(options: NetworkOptions, entry: NamedPerNetwork, mappings: PortMappingWire[], how: PlanOptions, defaultsGiven: Set<string>): NetworkAttachment {
  const network = networkOf(options, entry.name);
  const bridge = interfaceName(network.network_interface, `network_interface of network ${network.name}`);
  const ifname = interfaceName(entry.interface_name, `interface_name for network ${network.name}`);
  const bridgeOpts = bridgeOptions(network);
  const subnets = subnetsOf(network);
  // At teardown podman may send no static_ips (its IPAM lookup failed): what the records hold is taken away.
  const addresses = how.teardown && (entry.static_ips ?? []).length === 0 ? [] : staticAddresses(network, entry, subnets);
  const families = new Set(addresses.map((a) => familyOf(a.address)));
  const mac = staticMac(entry.static_mac);
  const portMappings = cniMappings(mappings, families);
  return {
    network: network.name,
    ifname,
    bridge,
    ...dnsOf(options, network, entry, subnets, addresses),
    list: chainOf(network, bridge, bridgeOpts, addresses, routesOf(network, addresses, bridgeOpts, defaultsGiven), how.firewall),
    capabilityArgs: { portMappings, ...(mac ? { mac } : {}) },
  };
}

export interface PlanOptions {
  /** A teardown: static_ips may be missing (podman's IPAM lookup failed) and are not needed. */
  teardown: boolean;
  /** The packet filter's part (NAT, published ports, isolation); off with NETAVARK_FW=none. */
  firewall: boolean;
}

/** Every network of a setup (or teardown) checked and planned, in podman's order; the first problem is the error. */
export function planAttachments(options: NetworkOptions, how: PlanOptions = { teardown: false, firewall: true }): SetupPlan {
  if (!CONTAINER_ID.test(options.container_id)) fail(`invalid container_id ${JSON.stringify(options.container_id.slice(0, 80))}`);
  const mappings = checkPortMappings(options.port_mappings ?? []);
  const defaultsGiven = new Set<string>();
  const attachments = options.networks.map((entry) => attachmentOf(options, entry, mappings, how, defaultsGiven));
  const ifnames = new Set<string>();
  for (const { ifname } of attachments) {
    if (ifnames.has(ifname)) fail(`interface_name ${ifname} is given to two networks`);
    ifnames.add(ifname);
  }
  const families = new Set(attachments.flatMap((a) => (a.list.plugins[0]?.ipam as { addresses: Array<{ address: string }> }).addresses.map((x) => familyOf(x.address))));
  const stray = mappings.find((m) => m.host_ip !== '' && !families.has(familyOf(m.host_ip)));
  if (stray && !how.teardown) fail(`host_ip ${stray.host_ip} is of a family none of the container's addresses has`);
  return { containerId: options.container_id, attachments };
}
