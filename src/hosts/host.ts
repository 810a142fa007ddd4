import type { CommandResult, Watch } from './exec.js';
import type { LoadBalancer } from './balancer.js';
import type { PacketFilter } from './packet-filter.js';

// The narrow host interface: every kernel operation plugins, pods and the runtime API
// need, with one driver per OS. `vnet` names the jail whose network stack is meant;
// undefined means the host's own.

export type Vnet = string | undefined;

/**
 * What repairs a failed check, as data for `jailnet status --fix`: a value to set now, a
 * module to load now (both applied by `--apply`), and lines for a file the admin edits.
 */
export interface Remedy {
  sysctl?: { name: string; value: string };
  module?: string;
  /** Lines the named file must hold (`/etc/pf.conf`, `/etc/rc.conf`, `/etc/sysctl.conf`). */
  lines?: { file: string; text: string[] };
}

/** One line of `jailnet status`: what is checked, whether it holds, and the fix when not. */
export interface ReadinessCheck {
  name: string;
  ok: boolean;
  /** Worth saying, never a failure (ok stays true): printed as `note`, with fix as advice. */
  note?: boolean;
  fix?: string;
  remedy?: Remedy[];
}

/** What the host's networks ask of it beyond the basics, read from jailnet's networks. */
export interface ReadinessNeeds {
  /** A network routes IPv6 beyond its bridge (an IPv6 subnet with a gateway). */
  ipv6Forwarding: boolean;
  /** A network masquerades IPv6 (an IPv6 subnet with ipMasq). */
  ipv6Masquerade: boolean;
}

export const NO_EXTRA_NEEDS: ReadinessNeeds = { ipv6Forwarding: false, ipv6Masquerade: false };

export function readinessCheck(name: string, ok: boolean, fix: string, remedy?: Remedy[]): ReadinessCheck {
  return { name, ok, ...(ok ? {} : { fix, ...(remedy ? { remedy } : {}) }) };
}

/** A driver's way of running one tool's argv on the host or inside a vnet (its packet filter uses it too). */
export type RunInVnet = (argv: [string, ...string[]], vnet: Vnet, options?: { input?: string; allowFailure?: boolean; reads?: boolean }) => Promise<CommandResult>;

export interface InterfaceAddress {
  address: string;
  prefixLength: number;
}

export interface InterfaceInfo {
  name: string;
  flags: string[];
  up: boolean;
  mtu: number;
  mac?: string;
  description?: string;
  groups: string[];
  inet: InterfaceAddress[];
  inet6: InterfaceAddress[];
  /** Bridge members, for a bridge. */
  members: string[];
}

export interface RouteInfo {
  family: 4 | 6;
  destination: string;
  gateway: string;
  flags: string;
  netif: string;
}

/** A route through one interface: via a gateway on it, or on the link itself when there is none. */
export interface DeviceRoute {
  /** `default`, or a prefix `A/L`. */
  destination: string;
  gateway?: string;
  device: string;
  family: 4 | 6;
}

export interface JailInfo {
  jid: number;
  name: string;
  parent: number;
  path: string;
  hostname: string;
  vnet: 'new' | 'inherit';
  dying: boolean;
}

export interface VxlanOptions {
  vni: number;
  local: string;
  remote?: string;
  group?: string;
  device?: string;
  port?: number;
}

export interface EpairOptions {
  /** The a end's name, given in the creating command itself: a crash never leaves a pair DEL cannot find by name. */
  name?: string;
  description?: string;
  /** The MTU of both ends. */
  mtu?: number;
  /** The a end comes up at once. */
  up?: boolean;
}

/**
 * An epair between the host and a vnet jail, as the bridge plugin plugs one in: the host
 * end named, described, sized and up (on the bridge when one is named), the other end in
 * the jail under its pod name (with that MAC, when one is asked for).
 */
export interface EpairPlug {
  hostName: string;
  description?: string;
  /** The MTU of both ends. */
  mtu?: number;
  bridge?: string;
  /** See addBridgeMember. */
  hairpin?: boolean;
  jail: string;
  podName: string;
  podMac?: string;
}

/** The MACs a plug gave its ends, where the driver set or knows them without a read. */
export interface PluggedEpair {
  hostMac?: string;
  podMac?: string;
}

/** A route a pod's interface gets: a prefix as CNI writes it (`0.0.0.0/0` for the default), through a gateway. */
export interface GatewayRoute {
  destination: string;
  gateway: string;
}

/** A name a plug needed is taken: on the host (`vnet` undefined) or in the jail. */
export class InterfaceNameTakenError extends Error {
  constructor(
    readonly interfaceName: string,
    readonly vnet: Vnet,
  ) {
    super(vnet === undefined ? `host interface ${interfaceName} already exists` : `interface ${interfaceName} already exists in ${vnet}`);
    this.name = 'InterfaceNameTakenError';
  }
}

export interface VnetJailOptions {
  hostname?: string;
  childrenMax?: number;
}

export interface ChildJailOptions {
  path: string;
  hostname?: string;
  childrenMax?: number;
}

/** A sandbox with a network stack of its own, one sharing its parent's, or none. */
export type SandboxState = 'own' | 'shared' | 'missing';

export interface Host {
  readonly kind: 'freebsd' | 'linux';
  /** The loopback interface's name (lo0, lo). */
  readonly loopback: string;
  /** What a sandbox is called on this host, for error messages ("jail", "network namespace"). */
  readonly sandboxNoun: string;

  // sandboxes: what CNI_NETNS names
  /** Validates a CNI_NETNS value and returns the vnet it names (a jail name; a netns path or name). Throws when invalid. */
  sandboxOf(netns: string): string;
  sandboxState(vnet: string): Promise<SandboxState>;
  /** The CNI_NETNS value for a jailnet pod's jail. */
  netnsOf(jail: string): string;

  // interfaces
  /**
   * Creates an epair and puts it in place (EpairPlug), in as few commands as the host
   * takes. On failure nothing of it is left; a taken name fails with InterfaceNameTakenError.
   */
  plugEpair(plug: EpairPlug): Promise<PluggedEpair>;
  createBridge(name?: string): Promise<string>;
  /** A tap; with `name`, the one command that creates it names it. */
  createTap(vnet?: Vnet, name?: string): Promise<string>;
  createVxlan(options: VxlanOptions, vnet?: Vnet): Promise<string>;
  renameInterface(name: string, newName: string, vnet?: Vnet): Promise<void>;
  destroyInterface(name: string, vnet?: Vnet): Promise<void>;
  moveToVnet(name: string, jail: string): Promise<void>;
  moveFromVnet(name: string, jail: string): Promise<void>;
  setMtu(name: string, mtu: number, vnet?: Vnet): Promise<void>;
  setMac(name: string, mac: string, vnet?: Vnet): Promise<void>;
  setDescription(name: string, description: string, vnet?: Vnet): Promise<void>;
  setUp(name: string, up: boolean, vnet?: Vnet): Promise<void>;
  setPromisc(name: string, on: boolean, vnet?: Vnet): Promise<void>;
  addAddress(name: string, cidr: string, vnet?: Vnet): Promise<void>;
  /**
   * The address an epair's a end was created with, known from the b end's where the kernel
   * derives one from the other; undefined where it has to be read.
   */
  epairPeerMac(bEndMac: string): string | undefined;
  /** Gives the interface these addresses, brings it up and adds these routes, in as few commands as the host takes. */
  configureInterface(name: string, cidrs: string[], routes: GatewayRoute[], vnet?: Vnet): Promise<void>;
  removeAddress(name: string, address: string, vnet?: Vnet): Promise<void>;
  /**
   * `hairpin`: frames may leave by the port they came in on (a pod reaching its own
   * published port). Linux bridges need it; FreeBSD's rdr path never re-enters the bridge port.
   */
  addBridgeMember(bridge: string, member: string, options?: { hairpin?: boolean }): Promise<void>;
  removeBridgeMember(bridge: string, member: string): Promise<void>;
  listInterfaces(vnet?: Vnet): Promise<string[]>;
  inspectInterface(name: string, vnet?: Vnet): Promise<InterfaceInfo | undefined>;

  /**
   * One long-lived monitor of a vnet's (or the host's) links, addresses and routes: each
   * line that reports a change of one of them to `onLine` (FreeBSD: route -n monitor,
   * through -j in a vnet; Linux: ip monitor). A line only says that something changed:
   * netmon then reads the host.
   */
  watchNetwork(vnet: Vnet, onLine: (line: string) => void): Watch;

  // routes
  addRoute(destination: string, gateway: string, vnet?: Vnet): Promise<void>;
  deleteRoute(destination: string, family: 4 | 6, vnet?: Vnet): Promise<void>;
  listRoutes(vnet?: Vnet): Promise<RouteInfo[]>;
  addDeviceRoute(route: DeviceRoute, vnet?: Vnet): Promise<void>;
  /** Removes the route of that destination through that gateway (any gateway when none is given). */
  deleteDeviceRoute(route: DeviceRoute, vnet?: Vnet): Promise<void>;

  // jails
  createVnetJail(name: string, options?: VnetJailOptions): Promise<JailInfo>;
  /**
   * A container: a child of the pod's jail sharing its network stack, addresses and
   * localhost. The invariant every driver holds: a container cannot reconfigure its
   * pod's network (FreeBSD: no vnet of its own and ip4/ip6=inherit, so no interface or
   * route of the pod is its to change; Linux: CAP_NET_ADMIN dropped from its bounding set).
   */
  createChildJail(name: string, options: ChildJailOptions): Promise<JailInfo>;
  removeJail(name: string): Promise<void>;
  listJails(options?: { dying?: boolean }): Promise<JailInfo[]>;
  /** Waits, bounded, until the jail is gone, dying state included. */
  waitJailGone(name: string, timeoutMs: number): Promise<void>;
  /** Runs a command inside a jail (jexec); its failure is returned, not thrown. */
  runInJail(name: string, argv: string[]): Promise<CommandResult>;

  // the packet filter and readiness
  /** Published ports, masquerading and isolation, as intents this driver renders (packet-filter.ts). */
  readonly filter: PacketFilter;
  /** A pod's load balancer (kata-ipvs), rendered in its packet filter (balancer.ts). */
  readonly balancer: LoadBalancer;
  /** What `jailnet status` checks on this kind of host, each with its fix. */
  readiness(needs?: ReadinessNeeds): Promise<ReadinessCheck[]>;

  /** IP forwarding of one family on the host, so a gateway's pods reach beyond their bridge; a no-op when on. */
  enableForwarding(family: 4 | 6): Promise<void>;

  // sysctl and modules
  sysctlGet(name: string, vnet?: Vnet): Promise<string>;
  sysctlSet(name: string, value: string, vnet?: Vnet): Promise<void>;
  isModuleLoaded(name: string): Promise<boolean>;
  loadModule(name: string): Promise<void>;
}
