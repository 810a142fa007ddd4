// What `jailnet topology` shows, as data: each network with its bridge, subnets and the
// bridge's members as the host reports them, and each pod with its attachments
// (addresses), containers, published ports, load-balancer services, what the runtime API
// hot-plugged (kata-network) and what someone else added (netmon's record); on a network with
// container names (dnsname), the names aardvark-dns serves, for pods and podman's containers
// alike. Built from the conflists, the pod records, one read of each bridge and aardvark's
// files; pure once those are read.
import type { DnsEntry } from '../dns/aardvark.js';
import { runtimeCidrs, type PodRecord } from '../pods/store.js';

/** A name served on a network: the container's names and addresses as aardvark's file has them. */
export interface ServedName {
  containerId: string;
  names: string[];
  addresses: string[];
}

export interface NetworkNode {
  name: string;
  bridge?: string;
  subnets: string[];
  /** The bridge's member interfaces as the host lists them (empty when it does not exist). */
  members: string[];
  pods: string[];
  /** Container names (dnsname): the domain, and every name served on the network. */
  dns?: { domain: string; served: ServedName[] };
}

export interface PodNode {
  name: string;
  mode: PodRecord['mode'];
  state: PodRecord['state'];
  jail: string;
  sharesWith?: string;
  /** `names`: what the network's DNS answers for the pod there (none when it has no name yet). */
  attachments: Array<{ network: string; ifname: string; addresses: string[]; names?: string[] }>;
  containers: string[];
  ports: Array<{ protocol: string; hostIP?: string; hostPort: number; containerPort: number }>;
  services: Array<{ protocol: string; address: string; port: number; scheduler: string; servers: Array<{ address: string; port: number; weight: number }> }>;
  /** Interfaces added to the running pod through kata-network add-iface (ready ones). */
  runtimeInterfaces: Array<{ name: string; device: string; linkType: 'tap' | 'pair'; addresses: string[] }>;
  /** Routes added through kata-network add-route. */
  runtimeRoutes: Array<{ dest: string; gateway?: string; device: string }>;
  /** Interfaces, addresses and routes found in the pod that neither jailnet nor the runtime API made. */
  addedOutside: PodRecord['observed'];
}

export interface Topology {
  host: 'freebsd' | 'linux';
  networks: NetworkNode[];
  pods: PodNode[];
}

export interface NetworkConfig {
  name: string;
  bridge?: string;
  subnets: string[];
  /** The domain of its dnsname plugin, when it has one. */
  dnsDomain?: string;
}

/** aardvark's entries by network, as read from its directory. */
export type ServedEntries = Map<string, Array<Omit<DnsEntry, 'servers'>>>;

function addressesOf(result: unknown): string[] {
  const ips = (result as { ips?: Array<{ address: string }> } | undefined)?.ips ?? [];
  return ips.map((ip) => ip.address);
}

function podNode(record: PodRecord, served: ServedEntries): PodNode {
  const balancer = record.runtime.balancer;
  const namesOn = (network: string) => served.get(network)?.find((e) => e.containerId === record.containerId)?.names;
  return {
    name: record.name,
    mode: record.mode,
    state: record.state,
    jail: record.jail,
    ...(record.sharesWith ? { sharesWith: record.sharesWith } : {}),
    attachments: record.networks.map((n) => {
      const names = namesOn(n.name);
      return { network: n.name, ifname: n.ifname, addresses: addressesOf(n.result), ...(names ? { names } : {}) };
    }),
    containers: record.containers.map((c) => c.name),
    ports: record.ports.map((p) => ({ protocol: p.protocol, ...(p.hostIP ? { hostIP: p.hostIP } : {}), hostPort: p.hostPort, containerPort: p.containerPort })),
    services: (balancer?.services ?? []).map((s) => ({ protocol: s.protocol, address: s.address, port: s.port, scheduler: s.scheduler, servers: s.servers.map((r) => ({ ...r })) })),
    runtimeInterfaces: record.runtime.interfaces
      .filter((i) => i.state === 'ready')
      .map((i) => ({ name: i.name, device: i.device, linkType: i.linkType, addresses: runtimeCidrs(i) })),
    runtimeRoutes: record.runtime.routes.map((r) => ({ dest: r.dest, ...(r.gateway ? { gateway: r.gateway } : {}), device: r.device })),
    addedOutside: record.observed,
  };
}

function dnsOf(network: NetworkConfig, served: ServedEntries): NetworkNode['dns'] {
  if (network.dnsDomain === undefined) return undefined;
  const entries = served.get(network.name) ?? [];
  return { domain: network.dnsDomain, served: entries.map((e) => ({ containerId: e.containerId, names: e.names, addresses: [...e.ipv4, ...e.ipv6] })) };
}

function networkNode(n: NetworkConfig, pods: PodRecord[], members: Map<string, string[]>, served: ServedEntries): NetworkNode {
  const dns = dnsOf(n, served);
  return {
    name: n.name,
    ...(n.bridge ? { bridge: n.bridge } : {}),
    subnets: n.subnets,
    members: (n.bridge ? members.get(n.bridge) : undefined) ?? [],
    pods: pods.filter((p) => p.networks.some((a) => a.name === n.name)).map((p) => p.name),
    ...(dns ? { dns } : {}),
  };
}

/**
 * The topology from what was read: `members` maps a bridge to its members (absent: not
 * there), `served` is what aardvark's files hold.
 */
export function buildTopology(host: Topology['host'], networks: NetworkConfig[], pods: PodRecord[], members: Map<string, string[]>, served: ServedEntries = new Map()): Topology {
  const sortedPods = [...pods].sort((a, b) => a.name.localeCompare(b.name));
  return {
    host,
    networks: [...networks].sort((a, b) => a.name.localeCompare(b.name)).map((n) => networkNode(n, sortedPods, members, served)),
    pods: sortedPods.map((p) => podNode(p, served)),
  };
}
