// What the host must hold for every pod, computed from jailnet's own records alone (the
// plugins' attachment records and the pod records): the packet filter's publications,
// masqueraded addresses and isolation policy, the interfaces that must be up, what
// belongs in each jailnet pod's vnet, the pods' load balancer rules and tuned sysctls. Pure: records in, data out; audit.ts compares it
// with what the host holds.
import { isEmptyRules, type BalancerRules } from '../balancer/rules.js';
import type { IsolationPolicy, PortPublication } from '../hosts/packet-filter.js';
import { formatIP, parseIP, parsePrefix } from '../ipam/ip.js';
import type { AttachmentRecord } from '../plugins/attachment-record.js';
import { isolationPolicy } from '../plugins/firewall.js';
import { runtimeCidrs, type ObservedNet, type PodRecord } from '../pods/store.js';

/** A portmap record as desired state needs it (portmap.ts PortmapRecord). */
export interface PublicationRecord {
  containerId: string;
  ifname: string;
  network: string;
  publication?: PortPublication;
}

export interface IsolationRecord {
  subnets: string[];
  isolated: boolean;
}

export interface Records {
  bridges: AttachmentRecord[];
  /** The tuning plugin's records: the sysctls each attachment set. */
  tunings: Array<{ jail: string; sysctl: Record<string, string> }>;
  publications: PublicationRecord[];
  isolation: IsolationRecord[];
  pods: PodRecord[];
  /** The sandbox a pod's jail is in the bridge records' spelling (Linux: a netns path). */
  sandboxOf(jail: string): string;
}

/** One interface that must be up: the bridge and the host end on the host, the pod's end in its vnet. */
export interface DesiredLink {
  pod: string;
  name: string;
  vnet?: string;
  role: 'bridge' | 'host end' | 'pod interface' | 'runtime interface';
}

/** What jailnet put into a jailnet pod's vnet: anything else there was added by someone else. */
export interface DesiredPodNet {
  pod: string;
  vnet: string;
  /** jailnet's own interfaces → their addresses, as CIDR where jailnet knows the prefix length. */
  interfaces: Map<string, string[]>;
  /** jailnet's own routes through a gateway, as routeKey() spells them. */
  routes: string[];
  /**
   * What someone else added, already recorded: neither drift nor put back when it goes
   * (the record then forgets it); whatever is on an observed interface is theirs too.
   */
  observed: ObservedNet;
}

/** A pod's load balancer rules (kata-ipvs), which its vnet's packet filter must hold. */
export interface DesiredBalancer {
  pod: string;
  vnet: string;
  rules: BalancerRules;
}

/** A net.* sysctl the tuning plugin set in a pod's vnet. */
export interface DesiredSysctl {
  pod: string;
  vnet: string;
  key: string;
  value: string;
}

export interface DesiredState {
  publications: Array<{ pod: string; publication: PortPublication }>;
  masqueraded: Array<{ pod: string; address: string }>;
  isolation: IsolationPolicy;
  links: DesiredLink[];
  pods: DesiredPodNet[];
  balancers: DesiredBalancer[];
  sysctls: DesiredSysctl[];
}

/** A route's destination as one string whatever the tool printed: `default` is the zero-length prefix, a bare address a host route. */
export function routeKey(destination: string, gateway: string, family: 4 | 6): string {
  const zero = family === 6 ? '::/0' : '0.0.0.0/0';
  let prefix = destination === 'default' ? zero : destination;
  if (!prefix.includes('/')) prefix = `${prefix}/${family === 6 ? 128 : 32}`;
  const parsed = parsePrefix(prefix);
  return `${parsed ? `${formatIP(parsed.ip)}/${parsed.bits}` : prefix} via ${gateway}`;
}

/** An address without its prefix length. */
export const bare = (cidr: string): string => cidr.split('/')[0] as string;

interface ResultLike {
  ips?: Array<{ address: string; gateway?: string }>;
  routes?: Array<{ dst: string; gw?: string }>;
}

/** A ready bridge-mode pod's own vnet contents, from its record. */
function podNet(pod: PodRecord): DesiredPodNet {
  const interfaces = new Map<string, string[]>();
  const routes: string[] = [];
  for (const network of pod.networks) {
    const result = (network.result ?? {}) as ResultLike;
    interfaces.set(network.ifname, (result.ips ?? []).map((ip) => ip.address));
    for (const ip of result.ips ?? []) {
      for (const route of result.routes ?? []) {
        const gateway = route.gw ?? ip.gateway;
        const family = parseIP(route.dst.split('/')[0] as string)?.family;
        if (gateway && family === parseIP(gateway)?.family) routes.push(routeKey(route.dst, gateway, family as 4 | 6));
      }
    }
  }
  for (const entry of pod.runtime.interfaces) interfaces.set(entry.name, runtimeCidrs(entry));
  for (const route of pod.runtime.routes) if (route.gateway) routes.push(routeKey(route.dest, route.gateway, route.family));
  return { pod: pod.name, vnet: pod.jail, interfaces, routes: [...new Set(routes)], observed: pod.observed };
}

/** The desired state of every attachment and pod jailnet has a record of. */
export function desiredState(records: Records): DesiredState {
  const podOfJail = new Map(records.pods.map((p) => [records.sandboxOf(p.jail), p.name]));
  const label = (jail: string) => podOfJail.get(jail) ?? jail;
  const podOfContainer = new Map(records.bridges.map((b) => [`${b.containerId}\n${b.ifname}`, label(b.jail)]));
  const links: DesiredLink[] = [];
  const seenBridges = new Set<string>();
  for (const b of records.bridges) {
    const pod = label(b.jail);
    if (!seenBridges.has(b.bridge)) links.push({ pod, name: b.bridge, role: 'bridge' });
    seenBridges.add(b.bridge);
    links.push({ pod, name: b.hostInterface, role: 'host end' }, { pod, name: b.ifname, vnet: b.jail, role: 'pod interface' });
  }
  // What kata-network add-iface plugged into a running pod, once it is whole.
  for (const pod of records.pods.filter((p) => p.state === 'ready')) {
    for (const entry of pod.runtime.interfaces.filter((i) => i.state === 'ready')) links.push({ pod: pod.name, name: entry.name, vnet: pod.jail, role: 'runtime interface' });
  }
  return {
    publications: records.publications
      .filter((r): r is PublicationRecord & { publication: PortPublication } => r.publication !== undefined && r.publication.forwards.length > 0)
      .map((r) => ({ pod: podOfContainer.get(`${r.containerId}\n${r.ifname}`) ?? r.containerId, publication: r.publication })),
    masqueraded: records.bridges.filter((b) => b.ipMasq).flatMap((b) => b.addresses.map((address) => ({ pod: label(b.jail), address: bare(address) }))),
    isolation: isolationPolicy(records.isolation),
    links,
    pods: records.pods.filter((p) => p.state === 'ready' && p.mode === 'bridge').map(podNet),
    balancers: records.pods
      .filter((p) => p.state === 'ready' && p.runtime.balancer !== undefined && !isEmptyRules(p.runtime.balancer))
      .map((p) => ({ pod: p.name, vnet: p.jail, rules: p.runtime.balancer as BalancerRules })),
    sysctls: records.tunings.flatMap((r) => Object.entries(r.sysctl).map(([key, value]) => ({ pod: label(r.jail), vnet: r.jail, key, value }))),
  };
}
