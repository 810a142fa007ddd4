// The FreeBSD driver: FreeBSD 14.x, 13.3+. It acts inside a vnet with `ifconfig -j` /
// `route -j` and falls back to `jexec J <tool>` where a release refuses `-j`; pfctl and
// sysctl have no `-j` and always go through jexec.
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostCommandError, type CommandResult, type ExecDoor, type Watch } from '../exec.js';
import { enableSysctl, settledFacts, type SettledFacts } from '../facts.js';
import { InterfaceNameTakenError, NO_EXTRA_NEEDS, type ReadinessNeeds } from '../host.js';
import type {
  ChildJailOptions,
  EpairOptions,
  EpairPlug,
  GatewayRoute,
  PluggedEpair,
  Host,
  ReadinessCheck,
  InterfaceInfo,
  JailInfo,
  DeviceRoute,
  RouteInfo,
  SandboxState,
  Vnet,
  VnetJailOptions,
  VxlanOptions,
} from '../host.js';
import { deviceRoute, ifconfig, jail, jls, kld, netstat, route, sysctl, type Argv } from './commands.js';
import { PfLoadBalancer } from './balancer.js';
import { PfPacketFilter } from './packet-filter.js';
import { isMonitoredChange, parseIfconfig, parseIfconfigList, parseJls, parseNetstatRoutes } from './parse.js';
import { freebsdReadiness } from './readiness.js';

const JAIL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** if_clone's IF_MAXUNIT (sys/net/if_clone.h): the largest unit a cloner hands out. */
const IF_MAXUNIT = 0x7fff;
/** Units jailnet picks for named pairs, above those `epair create` hands out from 0 upwards. */
const EPAIR_UNIT_FLOOR = 1000;
const EPAIR_UNIT_ATTEMPTS = 8;
/** The MTU an epair end starts with (net/ethernet.h ETHERMTU). */
const ETHERMTU = 1500;
/** Queries: they run even with --dry-run. */
const READS = { reads: true } as const;
const JAIL_FLAG_TOOLS = new Set(['ifconfig', 'route', 'netstat']);

/** The text a release without `-j` prints (getopt's message). */
function refusesJailFlag(result: CommandResult): boolean {
  return /illegal option -- j|invalid option -- '?j/.test(result.stderr);
}

export class FreeBSDHost implements Host {
  readonly kind = 'freebsd' as const;
  readonly loopback = 'lo0';
  readonly sandboxNoun = 'jail';
  readonly filter: PfPacketFilter;
  readonly balancer: PfLoadBalancer;
  readonly facts: SettledFacts;
  private jailFlagSupported: boolean | undefined;

  constructor(private readonly door: ExecDoor) {
    this.facts = settledFacts(this.kind, door);
    this.filter = new PfPacketFilter((argv, vnet, options) => this.run(argv, vnet, options), this);
    this.balancer = new PfLoadBalancer((argv, vnet, options) => this.run(argv, vnet, options), this);
  }

  async readiness(needs: ReadinessNeeds = NO_EXTRA_NEEDS): Promise<ReadinessCheck[]> {
    return freebsdReadiness(this, needs);
  }

  /** route has had -j since 13.3, the oldest release jailnet supports a vnet monitor on. */
  watchNetwork(vnet: Vnet, onLine: (line: string) => void): Watch {
    const [tool, ...args] = route.monitor(vnet);
    return this.door.watch(tool, args, (line) => isMonitoredChange(line) && onLine(line));
  }

  // sandboxes

  /** CNI_NETNS names the jail. It reaches `-j`/jexec argv, so it must be a jail name — never an option or shell text. */
  sandboxOf(netns: string): string {
    if (!JAIL_NAME.test(netns) || netns.length > 255 || netns.split('.').some((part) => part === '')) {
      throw new Error(`CNI_NETNS must name a jail: ${JSON.stringify(netns)}`);
    }
    return netns;
  }

  /** One jail looked up by name (`jls -j`), not all of them: the cost does not grow with the host's jails. */
  async sandboxState(vnet: string): Promise<SandboxState> {
    const found = await this.findJail(vnet, false);
    if (!found) return 'missing';
    return found.vnet === 'new' ? 'own' : 'shared';
  }

  netnsOf(jail: string): string {
    return jail;
  }

  /** Runs argv on the host, or in a vnet: `-j J` where the tool has it, else jexec. */
  private async run(argv: Argv, vnet: Vnet, options: { input?: string; allowFailure?: boolean; reads?: boolean } = {}): Promise<CommandResult> {
    const [tool, ...args] = argv;
    if (vnet === undefined) return this.door.run(tool, args, options);
    if (JAIL_FLAG_TOOLS.has(tool) && this.jailFlagSupported !== false) {
      const result = await this.door.run(tool, ['-j', vnet, ...args], { ...options, allowFailure: true });
      if (result.exitCode === 0 || !refusesJailFlag(result)) {
        this.jailFlagSupported = true;
        if (result.exitCode !== 0 && !options.allowFailure) throw new HostCommandError(result);
        return result;
      }
      this.jailFlagSupported = false;
    }
    // jail roots are `/`, so the host's own tool is the jail's.
    return this.door.run('jexec', [vnet, this.door.which(tool), ...args], options);
  }

  // interfaces

  /**
   * Runs a clone command. When its later parameters fail (a taken name), ifconfig has
   * already created and printed the clone: that leftover is destroyed before failing.
   */
  private async clone(argv: Argv, vnet: Vnet, placeholder: string): Promise<string> {
    const result = await this.run(argv, vnet, { allowFailure: true });
    const printed = result.stdout.trim();
    if (result.exitCode !== 0) {
      if (printed) await this.run(ifconfig.destroy(printed), vnet, { allowFailure: true });
      throw new HostCommandError(result);
    }
    return printed || placeholder;
  }

  async createEpair(options: EpairOptions = {}, vnet?: Vnet): Promise<{ a: string; b: string }> {
    if (options.name === undefined) {
      const a = await this.clone(ifconfig.createEpair(options), vnet, 'epair?a');
      return { a, b: a.replace(/a$/, 'b') };
    }
    const { a, unit } = await this.createNamedEpair(options, vnet);
    const b = `epair${unit}b`;
    // `create … mtu` sets the a end only; the b end starts at ETHERMTU (if_epair.c).
    if (options.mtu !== undefined && options.mtu !== ETHERMTU) {
      const sized = await this.run(ifconfig.mtu(b, options.mtu), vnet, { allowFailure: true });
      if (sized.exitCode !== 0) {
        await this.run(ifconfig.destroy(a), vnet, { allowFailure: true });
        throw new HostCommandError(sized);
      }
    }
    return { a, b };
  }

  /**
   * `create name X` renames only the a end; asking for the unit keeps the b end's name
   * known (epairNb). A unit another pair holds fails with EEXIST before anything is made.
   */
  private async createNamedEpair(options: EpairOptions, vnet: Vnet): Promise<{ a: string; unit: number }> {
    for (let attempt = 1; ; attempt++) {
      const unit = EPAIR_UNIT_FLOOR + randomInt(IF_MAXUNIT - EPAIR_UNIT_FLOOR);
      try {
        return { a: await this.clone(ifconfig.createEpair(options, unit), vnet, options.name as string), unit };
      } catch (error) {
        const taken = error instanceof HostCommandError && /interface epair\d+ already exists/.test(error.result.stderr) && !error.result.stdout.trim();
        if (!taken || attempt >= EPAIR_UNIT_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * In the steps FreeBSD takes: the epair created named, described, sized and up (a taken
   * name leaves nothing: see clone()); the MAC of the other end set while it is on the
   * host; the host end on the bridge; the other end moved and renamed in the jail. A step
   * that fails takes the pair away (destroying one end destroys both, wherever the other
   * is). The MACs are read afterwards: if_epair.c derives them itself.
   */
  async plugEpair(plug: EpairPlug): Promise<PluggedEpair> {
    const pair = await this.createEpair({ name: plug.hostName, description: plug.description, mtu: plug.mtu, up: true }).catch(async (error: unknown) => {
      if (!this.door.planning && (await this.inspectInterface(plug.hostName).catch(() => undefined))) throw new InterfaceNameTakenError(plug.hostName, undefined);
      throw error;
    });
    try {
      if (plug.podMac !== undefined) await this.setMac(pair.b, plug.podMac);
      if (plug.bridge !== undefined) await this.addBridgeMember(plug.bridge, plug.hostName);
      await this.moveToVnet(pair.b, plug.jail);
      await this.renameInterface(pair.b, plug.podName, plug.jail).catch(async (error: unknown) => {
        if ((await this.listInterfaces(plug.jail).catch((): string[] => [])).includes(plug.podName)) throw new InterfaceNameTakenError(plug.podName, plug.jail);
        throw error;
      });
    } catch (error) {
      await this.run(ifconfig.destroy(plug.hostName), undefined, { allowFailure: true });
      throw error;
    }
    return {};
  }

  async createBridge(name?: string): Promise<string> {
    return this.clone(ifconfig.createBridge(name), undefined, name ?? 'bridge?');
  }

  async createTap(vnet?: Vnet, name?: string): Promise<string> {
    return this.clone(ifconfig.createTap(name), vnet, name ?? 'tap?');
  }

  async createVxlan(options: VxlanOptions, vnet?: Vnet): Promise<string> {
    return (await this.run(ifconfig.createVxlan(options), vnet)).stdout.trim() || 'vxlan?';
  }

  async renameInterface(name: string, newName: string, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.rename(name, newName), vnet);
  }

  async destroyInterface(name: string, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.destroy(name), vnet);
  }

  async moveToVnet(name: string, jailName: string): Promise<void> {
    await this.run(ifconfig.moveToVnet(name, jailName), undefined);
  }

  async moveFromVnet(name: string, jailName: string): Promise<void> {
    await this.run(ifconfig.moveFromVnet(name, jailName), undefined);
  }

  async setMtu(name: string, mtu: number, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.mtu(name, mtu), vnet);
  }

  async setMac(name: string, mac: string, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.ether(name, mac), vnet);
  }

  async setDescription(name: string, description: string, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.description(name, description), vnet);
  }

  async setUp(name: string, up: boolean, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.updown(name, up), vnet);
  }

  async setPromisc(name: string, on: boolean, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.promisc(name, on), vnet);
  }

  async addAddress(name: string, cidr: string, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.addAddress(name, cidr), vnet);
  }

  /** sys/net/if_epair.c: the b end gets the a end's address with the last byte 0x0b (epair_clone_add); the a end's ends in 0x0a (epair_generate_mac). */
  epairPeerMac(bEndMac: string): string | undefined {
    return /^([0-9a-f]{2}:){5}0b$/i.test(bEndMac) ? `${bEndMac.slice(0, -2)}0a` : undefined;
  }

  /** One ifconfig per address (the last one also brings the interface up), then one route per route. */
  async configureInterface(name: string, cidrs: string[], routes: GatewayRoute[], vnet?: Vnet): Promise<void> {
    if (cidrs.length === 0) await this.setUp(name, true, vnet);
    for (const [i, cidr] of cidrs.entries()) {
      await this.run(i === cidrs.length - 1 ? ifconfig.addAddressAndUp(name, cidr) : ifconfig.addAddress(name, cidr), vnet);
    }
    // A route that is already there stays as it is: the first network to give a destination
    // (the default route of a container on two networks) wins, as the reference plugins do.
    for (const r of routes) {
      const added = await this.run(route.add(r.destination, r.gateway), vnet, { allowFailure: true });
      if (added.exitCode !== 0 && !/File exists/.test(added.stderr)) throw new HostCommandError(added);
    }
  }

  async removeAddress(name: string, address: string, vnet?: Vnet): Promise<void> {
    await this.run(ifconfig.removeAddress(name, address), vnet);
  }

  async addBridgeMember(bridge: string, member: string): Promise<void> {
    await this.run(ifconfig.addm(bridge, member), undefined);
  }

  async removeBridgeMember(bridge: string, member: string): Promise<void> {
    await this.run(ifconfig.deletem(bridge, member), undefined);
  }

  async listInterfaces(vnet?: Vnet): Promise<string[]> {
    return parseIfconfigList((await this.run(ifconfig.list(), vnet, READS)).stdout);
  }

  async inspectInterface(name: string, vnet?: Vnet): Promise<InterfaceInfo | undefined> {
    const result = await this.run(ifconfig.show(name), vnet, { allowFailure: true, reads: true });
    if (result.exitCode !== 0) {
      if (/does not exist/.test(result.stderr)) return undefined;
      throw new HostCommandError(result);
    }
    return parseIfconfig(result.stdout)[0];
  }

  // routes

  async addRoute(destination: string, gateway: string, vnet?: Vnet): Promise<void> {
    await this.run(route.add(destination, gateway), vnet);
  }

  async deleteRoute(destination: string, family: 4 | 6, vnet?: Vnet): Promise<void> {
    await this.run(route.delete(destination, family), vnet);
  }

  async addDeviceRoute(r: DeviceRoute, vnet?: Vnet): Promise<void> {
    await this.run(deviceRoute.add(r), vnet);
  }

  async deleteDeviceRoute(r: DeviceRoute, vnet?: Vnet): Promise<void> {
    await this.run(deviceRoute.delete(r), vnet);
  }

  async listRoutes(vnet?: Vnet): Promise<RouteInfo[]> {
    return parseNetstatRoutes((await this.run(netstat.routes(), vnet, READS)).stdout);
  }

  // jails

  private async findJail(name: string, dying: boolean): Promise<JailInfo | undefined> {
    const result = await this.run(jls.one(name, dying), undefined, { allowFailure: true, reads: true });
    if (result.exitCode !== 0) {
      if (/not found/.test(result.stderr)) return undefined;
      throw new HostCommandError(result);
    }
    return parseJls(result.stdout)[0];
  }

  private async created(name: string): Promise<JailInfo> {
    const info = this.door.planning ? undefined : await this.findJail(name, false);
    return info ?? { jid: 0, name, parent: 0, path: '/', hostname: name, vnet: 'new', dying: false };
  }

  async createVnetJail(name: string, options?: VnetJailOptions): Promise<JailInfo> {
    await this.run(jail.createVnet(name, options), undefined);
    return this.created(name);
  }

  /** The container invariant holds by jail(8) itself: no `vnet`, and ip4/ip6=inherit (commands.ts jail.createChild). */
  async createChildJail(name: string, options: ChildJailOptions): Promise<JailInfo> {
    await this.run(jail.createChild(name, options), undefined);
    return this.created(name);
  }

  async removeJail(name: string): Promise<void> {
    await this.run(jail.remove(name), undefined);
  }

  async runInJail(name: string, argv: string[]): Promise<CommandResult> {
    return this.door.run('jexec', [name, ...argv], { allowFailure: true });
  }

  async listJails(options: { dying?: boolean } = {}): Promise<JailInfo[]> {
    return parseJls((await this.run(jls.list(options.dying ?? false), undefined, READS)).stdout);
  }

  async waitJailGone(name: string, timeoutMs: number): Promise<void> {
    // In plan mode the jail was never removed: there is nothing to wait for.
    if (this.door.planning) return;
    const deadline = Date.now() + timeoutMs;
    let pause = 20;
    while ((await this.findJail(name, true)) !== undefined) {
      if (Date.now() > deadline) throw new Error(`jail ${name} is still present (dying) after ${timeoutMs} ms`);
      await sleep(pause);
      pause = Math.min(pause * 2, 500);
    }
  }

  async enableForwarding(family: 4 | 6): Promise<void> {
    await enableSysctl(this, family === 4 ? 'net.inet.ip.forwarding' : 'net.inet6.ip6.forwarding');
  }

  // sysctl and modules

  async sysctlGet(name: string, vnet?: Vnet): Promise<string> {
    return (await this.run(sysctl.get(name), vnet, READS)).stdout.trim();
  }

  async sysctlSet(name: string, value: string, vnet?: Vnet): Promise<void> {
    await this.run(sysctl.set(name, value), vnet);
  }

  async isModuleLoaded(name: string): Promise<boolean> {
    const result = await this.run(kld.stat(name), undefined, { allowFailure: true, reads: true });
    if (result.exitCode === 0) return true;
    // kldstat.c: err(1, "can't find module %s") is "not loaded"; any other failure is not an answer.
    if (/can't find module/.test(result.stderr)) return false;
    throw new HostCommandError(result);
  }

  async loadModule(name: string): Promise<void> {
    await this.run(kld.load(name), undefined);
  }
}
