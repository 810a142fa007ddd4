// The Linux driver: network namespaces stand in for vnet jails, veth pairs for epairs,
// Linux bridges for if_bridge, jailnet's nftables table for the packet filter. It lets
// CI run the same plugins and pods against a real kernel. Work inside a namespace goes through
// `nsenter --net=PATH`, which takes any netns path (/run/netns/X, /proc/PID/fd/N).
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseIP, parsePrefix } from '../../ipam/ip.js';
import { randomLocalMac, validateMacAddress } from '../../names.js';
import { HostCommandError, type CommandResult, type ExecDoor, type Watch } from '../exec.js';
import { enableSysctl, settledFacts, type SettledFacts } from '../facts.js';
import { InterfaceNameTakenError } from '../host.js';
import type {
  ChildJailOptions,
  Host,
  ReadinessCheck,
  InterfaceInfo,
  JailInfo,
  DeviceRoute,
  EpairPlug,
  GatewayRoute,
  PluggedEpair,
  RouteInfo,
  SandboxState,
  Vnet,
  VnetJailOptions,
  VxlanOptions,
} from '../host.js';
import { holder, ifn, inNetns, ip, sysctl, type Argv } from './commands.js';
import { HolderRegistry, initOf, netnsPathOf, NETNS_DIR, runDir } from './jails.js';
import { NftLoadBalancer } from './balancer.js';
import { NftPacketFilter } from './nft-filter.js';
import { linuxReadiness } from './readiness.js';
import { parseLink, parseLinkNames, parseNetnsNames, parseRoutes } from './parse.js';

/** Queries: they run even with --dry-run. */
const READS = { reads: true } as const;
/** The host namespace's interfaces as sysfs shows them (this process runs there). */
const SYS_CLASS_NET = '/sys/class/net';

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
// ip -batch splits on whitespace and honours double quotes: a description must not carry its own.
const BATCH_SAFE = /^[^"\\\n\r]*$/;

function batchSafe(description: string): string {
  if (!BATCH_SAFE.test(description)) throw new Error(`interface description may not contain quotes, backslashes or newlines`);
  return description;
}

/** EEXIST as ip words it: a route (`RTNETLINK answers: File exists`), an address (the kernel's extack `ipv4: Address already assigned`). */
const ALREADY_THERE = /File exists|Address already assigned/;

export class LinuxHost implements Host {
  readonly kind = 'linux' as const;
  readonly loopback = 'lo';
  readonly sandboxNoun = 'network namespace';
  readonly filter: NftPacketFilter;
  readonly facts: SettledFacts;
  readonly balancer: NftLoadBalancer;
  private readonly holders: HolderRegistry;

  constructor(
    private readonly door: ExecDoor,
    runDirectory: string = runDir(),
  ) {
    this.facts = settledFacts(this.kind, door);
    this.holders = new HolderRegistry(path.join(runDirectory, 'jails'));
    this.filter = new NftPacketFilter((argv, vnet, options) => this.run(argv, vnet, options), door, runDirectory, (name, value, vnet) => this.sysctlSet(name, value, vnet));
    this.balancer = new NftLoadBalancer((argv, vnet, options) => this.run(argv, vnet, options), door);
  }

  /** The Linux driver masquerades and forwards IPv6 itself (nft, sysctl at ADD): no extra need. */
  async readiness(): Promise<ReadinessCheck[]> {
    return linuxReadiness(this, this.door);
  }

  /** Runs argv on the host or, with a vnet, inside its network namespace. */
  private async run(argv: Argv, vnet: Vnet, options: { input?: string; allowFailure?: boolean; reads?: boolean } = {}): Promise<CommandResult> {
    const [tool, ...args] = argv;
    if (vnet === undefined) return this.door.run(tool, args, options);
    const [nsenter, ...nsArgs] = inNetns(netnsPathOf(vnet), [this.door.which(tool), ...args]);
    return this.door.run(nsenter, nsArgs, options);
  }

  watchNetwork(vnet: Vnet, onLine: (line: string) => void): Watch {
    const [tool, ...args] = ip.monitor();
    if (vnet === undefined) return this.door.watch(tool, args, onLine);
    const [nsenter, ...nsArgs] = inNetns(netnsPathOf(vnet), [this.door.which(tool), ...args]);
    return this.door.watch(nsenter, nsArgs, onLine);
  }

  // sandboxes

  sandboxOf(netns: string): string {
    const safe = netns.length < 4096 && !/[\s\0-\x1f\x7f"'\\`$;|&<>*?]/.test(netns) && !netns.split('/').includes('..');
    if (safe && netns.startsWith('/') && path.posix.normalize(netns) === netns) return netns;
    if (safe && NETNS_NAME.test(netns) && !netns.split('.').includes('')) return netns;
    throw new Error(`CNI_NETNS must be a network namespace path or name: ${JSON.stringify(netns)}`);
  }

  async sandboxState(vnet: string): Promise<SandboxState> {
    if (!vnet.startsWith('/') && vnet.includes('.')) return (await this.holders.find(vnet)) ? 'shared' : 'missing';
    return existsSync(netnsPathOf(vnet)) ? 'own' : 'missing';
  }

  netnsOf(jail: string): string {
    return netnsPathOf(jail);
  }

  // interfaces

  /**
   * One `ip -batch`: the veth made with its pod end created in the pod's namespace under
   * its pod name (no move, no rename), both ends sized and given MACs chosen here (random,
   * locally administered, as the kernel's own would be; the result needs no read of
   * either end), then the host end described, on the bridge and up. The kernel makes both
   * ends in one step or neither; what failed is looked at only after a failure.
   */
  async plugEpair(plug: EpairPlug): Promise<PluggedEpair> {
    const hostMac = randomLocalMac();
    const podMac = validateMacAddress(plug.podMac ?? randomLocalMac());
    const netns = netnsPathOf(plug.jail);
    if (/[\s"\\#]/.test(netns)) throw new Error(`network namespace path ${JSON.stringify(netns)} cannot be written in an ip batch`);
    const mtu = plug.mtu === undefined ? '' : ` mtu ${plug.mtu}`;
    const host = ifn(plug.hostName);
    const lines = [`link add name ${host}${mtu} address ${hostMac} type veth peer name ${ifn(plug.podName)}${mtu} address ${podMac} netns ${netns}`];
    if (plug.description !== undefined) lines.push(`link set dev ${host} alias "${batchSafe(plug.description)}"`);
    if (plug.bridge !== undefined) lines.push(`link set dev ${host} master ${ifn(plug.bridge)}`);
    if (plug.bridge !== undefined && plug.hairpin) lines.push(`link set dev ${host} type bridge_slave hairpin on`);
    lines.push(`link set dev ${host} up`);
    const result = await this.run(ip.batch(), undefined, { input: `${lines.join('\n')}\n`, allowFailure: true });
    if (result.exitCode === 0) return { hostMac, podMac };
    // A later line failed when the host end is there with the MAC chosen here: it is this plug's.
    const made = await this.inspectInterface(host).catch(() => undefined);
    if (made?.mac === hostMac) await this.run(ip.destroy(host), undefined, { allowFailure: true });
    else if (/File exists/.test(result.stderr)) await this.takenName(plug, made !== undefined);
    throw new HostCommandError(result);
  }

  /** Which of a plug's two names is taken, after the kernel refused the pair with EEXIST. */
  private async takenName(plug: EpairPlug, hostNameTaken: boolean): Promise<void> {
    if (hostNameTaken) throw new InterfaceNameTakenError(plug.hostName, undefined);
    if ((await this.listInterfaces(plug.jail).catch((): string[] => [])).includes(plug.podName)) throw new InterfaceNameTakenError(plug.podName, plug.jail);
  }

  async createBridge(name?: string): Promise<string> {
    const chosen = name ?? (await this.freeName('bridge', undefined));
    await this.run(ip.createBridge(chosen, randomLocalMac()), undefined);
    return chosen;
  }

  private async freeName(prefix: string, vnet: Vnet): Promise<string> {
    const taken = new Set(await this.listInterfaces(vnet));
    let unit = 0;
    while (taken.has(`${prefix}${unit}`)) unit += 1;
    return `${prefix}${unit}`;
  }

  async createTap(vnet?: Vnet, named?: string): Promise<string> {
    const name = named ?? (await this.freeName('tap', vnet));
    await this.run(ip.createTap(name), vnet);
    return name;
  }

  async createVxlan(options: VxlanOptions, vnet?: Vnet): Promise<string> {
    const name = await this.freeName('vxlan', vnet);
    await this.run(ip.createVxlan(name, options), vnet);
    return name;
  }

  async renameInterface(name: string, newName: string, vnet?: Vnet): Promise<void> {
    await this.run(ip.set(name, 'name', newName), vnet);
  }

  async destroyInterface(name: string, vnet?: Vnet): Promise<void> {
    await this.run(ip.destroy(name), vnet);
  }

  async moveToVnet(name: string, jail: string): Promise<void> {
    await this.run(ip.set(name, 'netns', netnsPathOf(jail)), undefined);
  }

  async moveFromVnet(name: string, jail: string): Promise<void> {
    // From inside the namespace, pid 1's namespace is the host's.
    await this.run(ip.set(name, 'netns', '1'), jail);
  }

  async setMtu(name: string, mtu: number, vnet?: Vnet): Promise<void> {
    await this.run(ip.set(name, 'mtu', String(mtu)), vnet);
  }

  async setMac(name: string, mac: string, vnet?: Vnet): Promise<void> {
    await this.run(ip.set(name, 'address', validateMacAddress(mac)), vnet);
  }

  async setDescription(name: string, description: string, vnet?: Vnet): Promise<void> {
    await this.run(ip.set(name, 'alias', description), vnet);
  }

  async setUp(name: string, up: boolean, vnet?: Vnet): Promise<void> {
    await this.run(ip.set(name, up ? 'up' : 'down'), vnet);
  }

  async setPromisc(name: string, on: boolean, vnet?: Vnet): Promise<void> {
    await this.run(ip.set(name, 'promisc', on ? 'on' : 'off'), vnet);
  }

  async addAddress(name: string, cidr: string, vnet?: Vnet): Promise<void> {
    await this.run(ip.addAddress(name, cidr), vnet);
  }

  /** A veth's two ends get unrelated random addresses. */
  epairPeerMac(): string | undefined {
    return undefined;
  }

  /** One `ip -batch` for the addresses, the link's state and the routes (a prefix says its family: a batch line takes no -4/-6). */
  async configureInterface(name: string, cidrs: string[], routes: GatewayRoute[], vnet?: Vnet): Promise<void> {
    const bad = [...cidrs, ...routes.map((r) => r.destination)].find((c) => !parsePrefix(c)) ?? routes.map((r) => r.gateway).find((g) => !parseIP(g));
    if (bad !== undefined) throw new Error(`invalid address or route ${JSON.stringify(bad)}`);
    const lines = [
      ...cidrs.map((c) => ip.addAddress(name, c).slice(1).join(' ')),
      ip.set(name, 'up').slice(1).join(' '),
      ...routes.map((r) => `route add ${r.destination} via ${r.gateway}`),
    ];
    const batch = await this.run(ip.batch(), vnet, { input: `${lines.join('\n')}\n`, allowFailure: true });
    if (batch.exitCode === 0) return;
    if (!ALREADY_THERE.test(batch.stderr)) throw new HostCommandError(batch);
    // Something was there already (the default route of the container's first network: the
    // first one wins, as the reference plugins say; an address of a repeated ADD). ip -batch
    // stops at that line, so each line is run again on its own, and only "exists" is passed over.
    for (const line of lines) {
      const one = await this.run(ip.batch(), vnet, { input: `${line}\n`, allowFailure: true });
      if (one.exitCode !== 0 && !ALREADY_THERE.test(one.stderr)) throw new HostCommandError(one);
    }
  }

  async removeAddress(name: string, address: string, vnet?: Vnet): Promise<void> {
    await this.run(ip.removeAddress(name, address), vnet);
  }

  async addBridgeMember(bridge: string, member: string, options: { hairpin?: boolean } = {}): Promise<void> {
    const lines = [`link set dev ${ifn(member)} master ${ifn(bridge)}`];
    if (options.hairpin) lines.push(`link set dev ${member} type bridge_slave hairpin on`);
    await this.run(ip.batch(), undefined, { input: `${lines.join('\n')}\n` });
  }

  async removeBridgeMember(_bridge: string, member: string): Promise<void> {
    await this.run(ip.set(member, 'nomaster'), undefined);
  }

  async listInterfaces(vnet?: Vnet): Promise<string[]> {
    return parseLinkNames((await this.run(ip.list(), vnet, READS)).stdout);
  }

  async inspectInterface(name: string, vnet?: Vnet): Promise<InterfaceInfo | undefined> {
    const result = await this.run(ip.show(name), vnet, { allowFailure: true, reads: true });
    if (result.exitCode !== 0) {
      if (/does not exist/.test(result.stderr)) return undefined;
      throw new HostCommandError(result);
    }
    const bridge = /"info_kind":"bridge"/.test(result.stdout);
    return parseLink(result.stdout, bridge ? await this.bridgeMembers(name, vnet) : []);
  }

  /**
   * A bridge's members, by name. In the host's namespace from sysfs (`brif/`, one directory
   * read), where `ip link show master` costs a process and a dump that grows with the
   * bridge's ports (bench part 5); in a pod's namespace, whose sysfs this process does not
   * see, by ip.
   */
  private async bridgeMembers(name: string, vnet: Vnet): Promise<string[]> {
    if (vnet === undefined) {
      const names = await readdir(path.join(SYS_CLASS_NET, ifn(name), 'brif')).catch(() => undefined);
      if (names) return names.sort();
    }
    return parseLinkNames((await this.run(ip.members(name), vnet, READS)).stdout);
  }

  // routes

  async addRoute(destination: string, gateway: string, vnet?: Vnet): Promise<void> {
    await this.run(ip.addRoute(destination, gateway), vnet);
  }

  async deleteRoute(destination: string, family: 4 | 6, vnet?: Vnet): Promise<void> {
    await this.run(ip.deleteRoute(destination, family), vnet);
  }

  async addDeviceRoute(r: DeviceRoute, vnet?: Vnet): Promise<void> {
    await this.run(ip.deviceRoute('add', r), vnet);
  }

  async deleteDeviceRoute(r: DeviceRoute, vnet?: Vnet): Promise<void> {
    // Without a gateway, `ip route del` of the destination on the device removes the first match, whichever its gateway.
    await this.run(ip.deviceRoute('del', r), vnet);
  }

  async listRoutes(vnet?: Vnet): Promise<RouteInfo[]> {
    const v4 = (await this.run(ip.routes(4), vnet, READS)).stdout;
    const v6 = (await this.run(ip.routes(6), vnet, READS)).stdout;
    return [...parseRoutes(v4, 4), ...parseRoutes(v6, 6)];
  }

  // jails

  async createVnetJail(name: string, options: VnetJailOptions = {}): Promise<JailInfo> {
    await this.run(ip.netnsAdd(name), undefined);
    return { jid: 0, name, parent: 0, path: '/', hostname: options.hostname ?? name, vnet: 'new', dying: false };
  }

  /** The container invariant holds by a bounding set without CAP_NET_ADMIN (commands.ts DROPPED_CAPABILITIES), applied to every process entering it. */
  async createChildJail(name: string, options: ChildJailOptions): Promise<JailInfo> {
    const parent = name.slice(0, name.lastIndexOf('.'));
    if (!name.includes('.') || parent === '') throw new Error(`jail "${name}" is not below a parent jail`);
    if (!this.door.planning) {
      if ((await this.sandboxState(parent)) === 'missing') throw new Error(`jail "${parent}" not found`);
      if (await this.holders.find(name)) throw new Error(`jail "${name}" already exists`);
    }
    const hostname = options.hostname ?? name;
    const which = (tool: string) => this.door.which(tool);
    const [starter, ...startArgs] = holder.start(netnsPathOf(name), which);
    const pid = await this.door.spawnDetached(starter, startArgs);
    let init = this.door.planning ? 0 : undefined;
    for (let waited = 0; init === undefined && waited < 5000; waited += 10) {
      init = await initOf(pid);
      if (init === undefined) await sleep(10);
    }
    if (init === undefined) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`jail "${name}": its holder process did not start`);
    }
    await this.run(holder.setHostname(init, hostname, which), undefined);
    if (!this.door.planning) await this.holders.write({ name, pid, init, path: options.path, hostname });
    return { jid: pid, name, parent: 0, path: options.path, hostname, vnet: 'inherit', dying: false };
  }

  /** Runs a command inside a jail: a child's namespaces and root, or a vnet jail's network. */
  async runInJail(name: string, argv: string[]): Promise<CommandResult> {
    const [command, ...args] = argv;
    if (command === undefined) throw new Error('runInJail needs a command');
    const child = await this.holders.find(name);
    const [tool, ...toolArgs] = child
      ? holder.enter(child.init, child.path, [command, ...args], (t) => this.door.which(t))
      : inNetns(netnsPathOf(name), [command, ...args]);
    if (!child && !existsSync(netnsPathOf(name)) && !this.door.planning) throw new Error(`jail "${name}" not found`);
    return this.door.run(tool, toolArgs, { allowFailure: true });
  }

  async removeJail(name: string): Promise<void> {
    // Children go first and deepest first, as `jail -r` takes a jail's children with it.
    const below = (await this.holders.live()).filter((h) => h.name === name || h.name.startsWith(`${name}.`));
    for (const child of below.sort((a, b) => b.name.length - a.name.length)) {
      const [kill, ...killArgs] = holder.kill(child.pid);
      await this.door.run(kill, killArgs, { allowFailure: true });
      if (!this.door.planning) await this.holders.remove(child.name);
    }
    if (name.includes('.')) {
      if (below.length === 0 && !this.door.planning) throw new Error(`jail "${name}" not found`);
      return;
    }
    await this.run(ip.netnsDelete(name), undefined);
  }

  async listJails(_options: { dying?: boolean } = {}): Promise<JailInfo[]> {
    const names = parseNetnsNames((await this.run(ip.netnsList(), undefined, READS)).stdout);
    const jails: JailInfo[] = names.map((name) => ({ jid: 0, name, parent: 0, path: '/', hostname: name, vnet: 'new', dying: false }));
    for (const child of await this.holders.live()) {
      jails.push({ jid: child.pid, name: child.name, parent: 0, path: child.path, hostname: child.hostname, vnet: 'inherit', dying: false });
    }
    return jails;
  }

  async waitJailGone(name: string, timeoutMs: number): Promise<void> {
    if (this.door.planning) return;
    const deadline = Date.now() + timeoutMs;
    let pause = 10;
    while ((await this.holders.find(name)) || (!name.includes('.') && existsSync(path.join(NETNS_DIR, name)))) {
      if (Date.now() > deadline) throw new Error(`jail ${name} is still present after ${timeoutMs} ms`);
      await sleep(pause);
      pause = Math.min(pause * 2, 200);
    }
  }

  async enableForwarding(family: 4 | 6): Promise<void> {
    await enableSysctl(this, family === 4 ? 'net.ipv4.ip_forward' : 'net.ipv6.conf.all.forwarding');
  }

  // sysctl and modules

  async sysctlGet(name: string, vnet?: Vnet): Promise<string> {
    return (await this.run(sysctl.get(name), vnet, READS)).stdout.trim();
  }

  async sysctlSet(name: string, value: string, vnet?: Vnet): Promise<void> {
    await this.run(sysctl.set(name, value), vnet);
  }

  async isModuleLoaded(name: string): Promise<boolean> {
    // A kernel without loadable modules has built in whatever it has.
    if (!existsSync('/proc/modules')) return true;
    return existsSync(path.join('/sys/module', name));
  }

  async loadModule(name: string): Promise<void> {
    await this.door.run('modprobe', [name]);
  }
}
