// `jailnet network create|ls|inspect|rm`: conflists in the CNI config dir.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { findNetwork, listNetworks } from '../cni/conflist.js';
import { parsePrefix, type Prefix } from '../ipam/ip.js';
import { validateInterfaceName, validateNetworkName } from '../names.js';
import { JAILNET_MARK, NetworkError, networkConflist } from '../networks/create.js';
import { removeUnusedBridge } from '../plugins/bridge/setup.js';
import { PodStore } from '../pods/store.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { formatPlan, unlessPlanning } from '../util/change-plan.js';
import type { Host, InterfaceInfo } from '../hosts/host.js';
import type { CliContext } from './context.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** A conflist's bridge plugin, where its network's bridge and subnets are. */
export function bridgePlugin(list: { plugins: Array<Record<string, unknown>> }): Record<string, unknown> | undefined {
  return list.plugins.find((p) => p.type === 'bridge');
}

/** A conflist's subnets: its bridge plugin's host-local ranges. */
export function subnetsOf(list: { plugins: Array<Record<string, unknown>> }): string[] {
  const bridge = bridgePlugin(list) as { ipam?: { ranges?: Array<Array<{ subnet: string }>> } } | undefined;
  return (bridge?.ipam?.ranges ?? []).flat().map((r) => r.subnet);
}

export function bridgeOf(list: { plugins: Array<Record<string, unknown>> }): string | undefined {
  return bridgePlugin(list)?.bridge as string | undefined;
}

/** An interface of that name on this host that is not a bridge (an uplink, lo0) cannot be one. */
async function refuseNonBridge(context: CliContext, name: string): Promise<void> {
  let info: InterfaceInfo | undefined;
  try {
    info = await (await context.host()).inspectInterface(name);
  } catch {
    // No driver or tool here to ask: the bridge plugin refuses it at the first ADD.
    return;
  }
  if (info && !info.groups.includes('bridge')) throw new NetworkError(`interface ${name} exists on this host and is not a bridge`);
}

function networkCreate(network: Command, context: CliContext): void {
  network
    .command('create <name>')
    .description('write a conflist: bridge + host-local, portmap, firewall, tuning')
    .option('--subnet <cidr>', 'a subnet (repeatable; default: the next free 10.89.x.0/24)', collect, [])
    .option('--gateway <ip>', 'gateway address')
    .option('--ip-range <cidr>', 'allocate only from this part of the subnet')
    .option('--ipv6', 'add an IPv6 subnet (a ULA /64 unless --subnet gives one)', false)
    .option('--bridge <if>', 'bridge interface name')
    .option('--internal', 'no gateway, no masquerading, no default route', false)
    .option('--mtu <n>', 'MTU (72 to 65535)', (v) => (/^\d+$/.test(v) ? Number(v) : NaN))
    .option('--isolate', "pods of other jailnet networks cannot reach this network's pods", false)
    .option('--dns', 'pods resolve each other by name and --alias (aardvark-dns on the gateway)', false)
    .action(async (name: string, options: { subnet: string[]; gateway?: string; ipRange?: string; ipv6: boolean; bridge?: string; internal: boolean; mtu?: number; isolate: boolean; dns: boolean }) => {
      validateNetworkName(name);
      const { runtime } = await context.config();
      const { lists } = await listNetworks(runtime.cniConfigDir);
      if (lists.some((l) => l.name === name)) throw new NetworkError(`network ${name} already exists`);
      const existing = lists.map((l) => JSON.parse(l.bytes.toString()) as { plugins: Array<Record<string, unknown>> });
      const used = existing.flatMap(subnetsOf).map((s) => parsePrefix(s)).filter((p): p is Prefix => p !== null);
      const conflist = networkConflist({ name, dataDir: path.join(runtime.stateDir, 'networks'), subnets: options.subnet, gateway: options.gateway, ipRange: options.ipRange, ipv6: options.ipv6, bridge: options.bridge, internal: options.internal, mtu: options.mtu, isolate: options.isolate, dns: options.dns }, used, existing.map(bridgeOf).filter((b): b is string => b !== undefined));
      if (options.bridge) await refuseNonBridge(context, options.bridge);
      const file = path.join(runtime.cniConfigDir, `${name}.conflist`);
      await unlessPlanning(context.plan, 'write', file, () => writeFileAtomic(file, `${JSON.stringify(conflist, null, 2)}\n`, { mode: 0o644, dirMode: 0o755 }));
      if (context.dryRun()) {
        const steps = context.plan.steps;
        context.print({ plan: steps, file, conflist }, () => `${formatPlan(steps)}\n${JSON.stringify(conflist, null, 2)}`);
        return;
      }
      context.print({ name, file, conflist }, () => `${name}: ${file}`);
    });
}

function networkList(network: Command, context: CliContext): void {
  network
    .command('ls')
    .description('list networks')
    .action(async () => {
      const { runtime } = await context.config();
      const { lists } = await listNetworks(runtime.cniConfigDir);
      const rows = lists.map((l) => {
        const raw = JSON.parse(l.bytes.toString()) as { plugins: Array<Record<string, unknown>> } & Record<string, unknown>;
        return { name: l.name, cniVersion: l.cniVersion, bridge: bridgeOf(raw), subnets: subnetsOf(raw), jailnet: JAILNET_MARK in raw };
      });
      context.print(rows, () => rows.map((r) => `${r.name.padEnd(20)} ${String(r.bridge ?? '-').padEnd(15)} ${r.subnets.join(',')}`).join('\n'));
    });
}

function networkInspect(network: Command, context: CliContext): void {
  network
    .command('inspect <name>')
    .description('show a network configuration list')
    .action(async (name: string) => {
      const { runtime } = await context.config();
      const list = await findNetwork(runtime.cniConfigDir, validateNetworkName(name));
      const raw = JSON.parse(list.bytes.toString()) as unknown;
      context.print(raw, () => JSON.stringify(raw, null, 2));
    });
}

/** What became of a removed network's bridge: gone, never there, or kept (and why). */
interface BridgeOutcome {
  name: string;
  outcome: 'removed' | 'absent' | 'kept';
  reason?: string;
}

/**
 * The network's bridge goes with it when nothing uses it, as podman's `network rm` does
 * (libnetwork removes what CNI leaves); one with a member jailnet did not attach (an
 * admin's uplink) or with attachments still recorded stays, and the user is told why.
 */
async function removeNetworkBridge(context: CliContext, stateDir: string, list: { plugins: Array<Record<string, unknown>> }): Promise<BridgeOutcome | undefined> {
  const name = bridgeOf(list);
  if (name === undefined) return undefined;
  validateInterfaceName(name);
  let host: Host;
  try {
    host = await context.host();
  } catch {
    // No driver or tool here: there is no bridge of this host to remove.
    return undefined;
  }
  const outcome = await removeUnusedBridge(host, name, { attachments: path.join(stateDir, 'attachments'), planning: context.dryRun() });
  if (outcome !== 'in use') return { name, outcome };
  const info = await host.inspectInterface(name);
  const reason = !info?.groups.includes('bridge')
    ? 'it is not a bridge'
    : info.members.length > 0
      ? `it has members jailnet did not attach (${info.members.join(', ')})`
      : 'containers are still attached to it';
  return { name, outcome: 'kept', reason };
}

function describeRemoval(name: string, file: string, bridge: BridgeOutcome | undefined): string {
  const line = `removed ${name} (${file})`;
  if (bridge?.outcome === 'removed') return `${line} and its bridge ${bridge.name}`;
  if (bridge?.outcome === 'kept') return `${line}; bridge ${bridge.name} kept: ${bridge.reason}`;
  return line;
}

function networkRemove(network: Command, context: CliContext): void {
  network
    .command('rm <name>')
    .description("remove a network and its bridge (refused while pods use it; a bridge with others' members stays)")
    .action(async (name: string) => {
      validateNetworkName(name);
      const { runtime } = await context.config();
      const users = (await new PodStore(runtime.stateDir).all()).filter((p) => p.networks.some((n) => n.name === name));
      if (users.length > 0) throw new NetworkError(`network ${name} is used by pod ${users.map((p) => p.name).join(', ')}`);
      const { lists } = await listNetworks(runtime.cniConfigDir);
      const list = lists.find((l) => l.name === name);
      if (!list) throw new NetworkError(`network ${name} does not exist`);
      const files = (await fs.readdir(runtime.cniConfigDir)).map((f) => path.join(runtime.cniConfigDir, f));
      for (const file of files) {
        const text = await fs.readFile(file).catch(() => undefined);
        if (text && text.equals(list.bytes)) {
          await unlessPlanning(context.plan, 'remove', file, () => fs.rm(file));
          const bridge = await removeNetworkBridge(context, runtime.stateDir, JSON.parse(text.toString()) as { plugins: Array<Record<string, unknown>> });
          if (!context.printPlanIfDry()) context.print({ removed: name, file, ...(bridge ? { bridge } : {}) }, () => describeRemoval(name, file, bridge));
          return;
        }
      }
    });
}

export function networkCommand(context: CliContext): Command {
  const network = new Command('network').description('manage CNI networks (podman-compatible conflists)');

  networkCreate(network, context);
  networkList(network, context);
  networkInspect(network, context);
  networkRemove(network, context);
  return network;
}
