// What `jailnet topology` shows, as data: each network with its bridge, subnets and the
// bridge's members as the host reports them, and each pod with its attachments
// (addresses), containers, published ports, load-balancer services, what the runtime API
// hot-plugged (kata-network) and what someone else added (netmon's record). Built from the
// conflists, the pod records and one read of each bridge; pure once those are read.
import { runtimeCidrs, type PodRecord } from '../pods/store.js';

export interface NetworkNode {
  name: string;
  bridge?: string;
  subnets: string[];
  /** The bridge's member interfaces as the host lists them (empty when it does not exist). */
  members: string[];
  pods: string[];
}

export interface PodNode {
  name: string;
  mode: PodRecord['mode'];
  state: PodRecord['state'];
  jail: string;
  sharesWith?: string;
  attachments: Array<{ network: string; ifname: string; addresses: string[] }>;
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
}

function addressesOf(result: unknown): string[] {
  const ips = (result as { ips?: Array<{ address: string }> } | undefined)?.ips ?? [];
  return ips.map((ip) => ip.address);
}

function podNode(record: PodRecord): PodNode {
  const balancer = record.runtime.balancer;
  return {
    name: record.name,
    mode: record.mode,
    state: record.state,
    jail: record.jail,
    ...(record.sharesWith ? { sharesWith: record.sharesWith } : {}),
    attachments: record.networks.map((n) => ({ network: n.name, ifname: n.ifname, addresses: addressesOf(n.result) })),
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

/** The topology from what was read: `members` maps a bridge to its members (absent: not there). */
export function buildTopology(host: Topology['host'], networks: NetworkConfig[], pods: PodRecord[], members: Map<string, string[]>): Topology {
  const sortedPods = [...pods].sort((a, b) => a.name.localeCompare(b.name));
  return {
    host,
    networks: [...networks]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((n) => ({
        name: n.name,
        ...(n.bridge ? { bridge: n.bridge } : {}),
        subnets: n.subnets,
        members: (n.bridge ? members.get(n.bridge) : undefined) ?? [],
        pods: sortedPods.filter((p) => p.networks.some((a) => a.name === n.name)).map((p) => p.name),
      })),
    pods: sortedPods.map(podNode),
  };
}
