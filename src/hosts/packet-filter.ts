// What jailnet asks of a host's packet filter, as data. Plugins say which ports a pod
// publishes, which pod addresses are masqueraded and which networks are isolated; each
// driver renders that in one module of its own (FreeBSD: pf anchors, freebsd/pf-text.ts;
// Linux: one nft transaction, linux/nft-table.ts) and reads it back structurally. No rule
// text crosses this interface, the way the reference portmap's PortMapper and netavark's
// FirewallDriver keep iptables and nftables behind one set of operations.
import { familyOf, parseIP, parsePrefix } from '../ipam/ip.js';
import { isInterfaceName } from '../names.js';
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

export interface PacketFilter {
  /** Installs an attachment's forwards, replacing what it published before; returns warnings for the user. */
  publishPorts(publication: PortPublication, vnet?: Vnet): Promise<string[]>;
  /**
   * Removes an attachment's forwards (having none is no error) and ends the tracked flows to
   * `flowsTo`, which would otherwise keep going through them until they time out.
   */
  unpublishPorts(owner: PublicationOwner, flowsTo: string[], vnet?: Vnet): Promise<void>;
  /** The forwards the host holds for an attachment, read back from the filter itself. */
  publishedPorts(owner: PublicationOwner, vnet?: Vnet): Promise<PortForward[]>;
  /** Makes the host's isolation match the policy; an empty `isolated` removes every isolation rule. */
  setIsolation(policy: IsolationPolicy, vnet?: Vnet): Promise<void>;
  /** The subnets the host isolates now. */
  isolatedSubnets(vnet?: Vnet): Promise<string[]>;
  /** Pod addresses whose traffic to other hosts leaves with the host's address. */
  masquerade(addresses: string[], vnet?: Vnet): Promise<void>;
  /** Stops masquerading those of `addresses` that are; returns how many were (an address that is not is no error). */
  unmasquerade(addresses: string[], vnet?: Vnet): Promise<number>;
  masqueraded(vnet?: Vnet): Promise<string[]>;
  /** Ends the tracked flows to an address; returns how many. */
  killFlowsTo(address: string, vnet?: Vnet): Promise<number>;
  /** Whether the filter can take jailnet's work now (FreeBSD: pf loaded). */
  available(): Promise<boolean>;
  /**
   * Whether what jailnet's rules hang on is whole (Linux: the base chains' fixed rules of
   * jailnet's table; FreeBSD: always, the hooks are pf.conf's, which `status` checks).
   */
  baseIntact(vnet?: Vnet): Promise<boolean>;
  /** Puts back what baseIntact found missing; nothing else changes. */
  restoreBase(vnet?: Vnet): Promise<void>;
  /**
   * Forgets what this process remembers of the filter (Linux: its memory and count of the
   * table), so the next change reads the host first: after something other than jailnet
   * changed it (a pf reload, `nft flush table`), before a repair.
   */
  resync(vnet?: Vnet): Promise<void>;
}

const PROTOCOLS = new Set<string>(['tcp', 'udp', 'sctp']);

export function isProtocol(text: string): text is Protocol {
  return PROTOCOLS.has(text);
}

export class IntentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntentError';
  }
}

const isAddress = (text: string) => parseIP(text) !== null;
const isSubnet = (text: string) => parsePrefix(text) !== null;
const isPort = (port: number) => Number.isInteger(port) && port >= 1 && port <= 65535;

function validateForward(f: PortForward): void {
  if (!isProtocol(f.protocol)) throw new IntentError(`unknown protocol ${JSON.stringify(f.protocol)}`);
  if (!isPort(f.hostPort) || !isPort(f.podPort)) throw new IntentError(`ports must be 1 to 65535: ${f.hostPort} -> ${f.podPort}`);
  if (!isAddress(f.podAddress)) throw new IntentError(`not a pod address: ${JSON.stringify(f.podAddress)}`);
  if (f.hostIP !== undefined && !isAddress(f.hostIP)) throw new IntentError(`not a host address: ${JSON.stringify(f.hostIP)}`);
  if (f.hostIP !== undefined && familyOf(f.hostIP) !== familyOf(f.podAddress)) {
    throw new IntentError(`host address ${f.hostIP} and pod address ${f.podAddress} are of different families`);
  }
}

/**
 * What every driver checks before it renders a publication into rule text: the text
 * reaches pfctl or nft, so nothing in it may be other than what it claims to be.
 */
export function validatePublication(publication: PortPublication): void {
  publication.forwards.forEach(validateForward);
  const { hairpin } = publication;
  if (hairpin && !isInterfaceName(hairpin.bridge)) throw new IntentError(`not an interface name: ${JSON.stringify(hairpin.bridge)}`);
  const badSubnet = hairpin?.subnets.find((s) => !isSubnet(s));
  if (badSubnet !== undefined) throw new IntentError(`not a subnet: ${JSON.stringify(badSubnet)}`);
}

export function validatePolicy(policy: IsolationPolicy): void {
  const bad = [...policy.podSubnets, ...policy.isolated].find((s) => !isSubnet(s));
  if (bad !== undefined) throw new IntentError(`not a subnet: ${JSON.stringify(bad)}`);
}

export function validateAddresses(addresses: string[]): void {
  const bad = addresses.find((a) => !isAddress(a));
  if (bad !== undefined) throw new IntentError(`not an address: ${JSON.stringify(bad)}`);
}

/** Forwards listed in one canonical order, so two lists compare as data. */
export function sortedForwards(forwards: PortForward[]): PortForward[] {
  const key = (f: PortForward) => `${f.protocol} ${f.hostIP ?? '*'} ${f.hostPort} ${f.podAddress} ${f.podPort}`;
  return [...forwards].sort((a, b) => key(a).localeCompare(key(b)));
}
