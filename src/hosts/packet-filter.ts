// What jailnet asks of a host's packet filter, as data. Plugins say which ports a pod
// publishes, which pod addresses are masqueraded and which networks are isolated; each
// driver renders that in one module of its own (FreeBSD: pf anchors, freebsd/pf-text.ts;
// Linux: one nft transaction, linux/nft-table.ts) and reads it back structurally. No rule
// text crosses this interface, the way the reference portmap's PortMapper and netavark's
// FirewallDriver keep iptables and nftables behind one set of operations.
import type { Vnet } from './host.js';

export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface PortForward {
  protocol: Protocol;
  /** Only connections to this host address; undefined: to any of the host's own addresses. */
  hostIP?: string;
  hostPort: number;
  podAddress: string;
  podPort: number;
}

/** Which attachment publishes: one publication per container interface. */
export interface PublicationOwner {
  containerId: string;
  ifname: string;
}

export interface PortPublication {
  owner: PublicationOwner;
  forwards: PortForward[];
  /**
   * Source NAT to the bridge's own address for connections from the host's loopback and
   * from these subnets (the pod itself, its neighbours), so their replies come back
   * through the translation. Undefined: no source NAT (the portmap's `snat: false`).
   */
  hairpin?: { bridge: string; subnets: string[] };
}

export interface IsolationPolicy {
  /** Every subnet of jailnet's pods, isolated or not. */
  podSubnets: string[];
  /** Subnets that only their own pods may reach (the firewall's `ingressPolicy: same-bridge`). */
  isolated: string[];
}

/** One line of `jailnet status`: what is checked, whether it holds, and the fix when not. */
export interface ReadinessCheck {
  name: string;
  ok: boolean;
  fix?: string;
}

export interface PacketFilter {
  /** Installs an attachment's forwards, replacing what it published before; returns warnings for the user. */
  publishPorts(publication: PortPublication, vnet?: Vnet): Promise<string[]>;
  /** Removes an attachment's forwards; false when it had none. */
  unpublishPorts(owner: PublicationOwner, vnet?: Vnet): Promise<boolean>;
  /** The forwards the host holds for an attachment, read back from the filter itself. */
  publishedPorts(owner: PublicationOwner, vnet?: Vnet): Promise<PortForward[]>;
  /** Makes the host's isolation match the policy; an empty `isolated` removes every isolation rule. */
  setIsolation(policy: IsolationPolicy, vnet?: Vnet): Promise<void>;
  /** The subnets the host isolates now. */
  isolatedSubnets(vnet?: Vnet): Promise<string[]>;
  /** Pod addresses whose traffic to other hosts leaves with the host's address. */
  masquerade(addresses: string[], vnet?: Vnet): Promise<void>;
  unmasquerade(addresses: string[], vnet?: Vnet): Promise<void>;
  masqueraded(vnet?: Vnet): Promise<string[]>;
  /** Ends the tracked flows to an address; returns how many. */
  killFlowsTo(address: string, vnet?: Vnet): Promise<number>;
  /** Whether the filter can take jailnet's work now (FreeBSD: pf loaded). */
  available(): Promise<boolean>;
}

const PROTOCOLS = new Set<string>(['tcp', 'udp', 'sctp']);

export function isProtocol(text: string): text is Protocol {
  return PROTOCOLS.has(text);
}

/** The address family of an address or prefix. */
export function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/** Forwards listed in one canonical order, so two lists compare as data. */
export function sortedForwards(forwards: PortForward[]): PortForward[] {
  const key = (f: PortForward) => `${f.protocol} ${f.hostIP ?? '*'} ${f.hostPort} ${f.podAddress} ${f.podPort}`;
  return [...forwards].sort((a, b) => key(a).localeCompare(key(b)));
}
