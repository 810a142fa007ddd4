// Pods: a parent jail rooted at `/` that owns the pod's network (a vnet of its own in
// bridge and none modes), child jails for containers with ip4=inherit ip6=inherit,
// and a teardown in a fixed order around the containers' lifecycle.
import type { ChainRunner, RuntimeConf } from '../cni/chain.js';
import type { ConfList } from '../cni/conflist.js';
import type { Host } from '../hosts/host.js';
import { parseIP } from '../ipam/ip.js';
import { isMacAddress, validateContainerName, validatePodName } from '../names.js';
import type { PodRecord, PodStore, PortMapping } from './store.js';
import { cleanLeftovers } from './leftovers.js';

export class PodError extends Error {}

export type PodMode = PodRecord['mode'];

export interface PodContext {
  host: Host;
  runner: ChainRunner;
  store: PodStore;
  /** Looks a network up by name (the CNI config dir). */
  network(name: string): Promise<ConfList>;
  teardownTimeoutMs: number;
  /** --dry-run: host commands are recorded, not run, and no record is written. */
  planning: boolean;
  /** [network] disable_new_netns: pods get no network of their own (host mode). */
  disableNewNetns: boolean;
}

export interface CreateOptions {
  name: string;
  networks: string[];
  mode: string;
  ports: PortMapping[];
  ip?: string;
  mac?: string;
  restart?: 'no' | 'always';
}

const CHILDREN_MAX = 64;
/** A jail below another pod's (container mode) must allow fewer children than its parent. */
const SHARER_CHILDREN_MAX = 32;

export function podContainerId(pod: string): string {
  return `jailnet-${pod}`;
}

export function podJailName(pod: string): string {
  return `jailnet-${pod}`;
}

/** `[HOSTIP:]HOSTPORT:CTRPORT[/PROTO]`, as podman's -p takes it. */
export function parsePublish(text: string): PortMapping {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(text);
  if (!match) throw new PodError(`invalid port publication "${text}": use [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp|sctp]`);
  const hostIP = match[1]?.replace(/^\[|\]$/g, '');
  if (hostIP !== undefined && !parseIP(hostIP)) throw new PodError(`invalid host address in "${text}"`);
  const hostPort = Number(match[2]);
  const containerPort = Number(match[3]);
  if (hostPort < 1 || hostPort > 65535 || containerPort < 1 || containerPort > 65535) throw new PodError(`port out of range in "${text}"`);
  return { ...(hostIP ? { hostIP } : {}), hostPort, containerPort, protocol: (match[4] as PortMapping['protocol']) ?? 'tcp' };
}

function parseMode(mode: string): { mode: PodMode; sharesWith?: string } {
  if (mode === 'bridge' || mode === 'none' || mode === 'host') return { mode };
  const shared = /^container:(.+)$/.exec(mode);
  if (shared) return { mode: 'container', sharesWith: validatePodName(shared[1] as string) };
  throw new PodError(`unknown mode "${mode}": use bridge, none, host or container:POD`);
}

function runtimeConf(record: PodRecord, netns: string, ifname: string): RuntimeConf {
  const args: Array<[string, string]> = [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAME', record.name],
  ];
  if (record.ip) args.push(['IP', record.ip]);
  if (record.mac) args.push(['MAC', record.mac]);
  return {
    containerId: record.containerId,
    netns,
    ifname,
    args,
    capabilityArgs: record.ports.length > 0 ? { portMappings: record.ports } : {},
  };
}

async function save(ctx: PodContext, record: PodRecord): Promise<void> {
  if (!ctx.planning) await ctx.store.write(record);
}

/** Validates everything a create needs before the first host command. */
async function prepare(ctx: PodContext, options: CreateOptions): Promise<{ record: PodRecord; lists: ConfList[] }> {
  validatePodName(options.name);
  const requested = ctx.disableNewNetns && options.mode === 'bridge' && options.networks.length === 0 ? 'host' : options.mode;
  const { mode, sharesWith } = parseMode(requested);
  if (ctx.disableNewNetns && (mode === 'bridge' || mode === 'none')) {
    throw new PodError(`[network] disable_new_netns is set: pods use the host's network, so --mode ${mode} cannot apply`);
  }
  if (options.ip && !parseIP(options.ip)) throw new PodError(`invalid --ip "${options.ip}"`);
  if (options.mac && !isMacAddress(options.mac)) throw new PodError(`invalid --mac "${options.mac}"`);
  if (mode === 'bridge' && options.networks.length === 0) throw new PodError('bridge mode needs at least one --network');
  if (mode !== 'bridge' && (options.networks.length > 0 || options.ports.length > 0)) {
    throw new PodError(`--network and -p need bridge mode; this pod is in ${mode} mode`);
  }
  const lists = [];
  for (const name of options.networks) lists.push(await ctx.network(name));
  if (await ctx.store.read(options.name)) throw new PodError(`pod ${options.name} already exists`);
  let jail = podJailName(options.name);
  if (sharesWith) {
    const shared = await ctx.store.read(sharesWith);
    if (!shared || shared.state !== 'ready') throw new PodError(`pod ${sharesWith} does not exist`);
    if (shared.mode === 'host') throw new PodError(`pod ${sharesWith} is in host mode: there is no network to share`);
    // A jail below the other pod's jail inherits its vnet.
    jail = `${shared.jail}.${options.name}`;
  }
  const record: PodRecord = {
    name: options.name,
    jail,
    mode,
    ...(sharesWith ? { sharesWith } : {}),
    state: 'creating',
    creatorPid: process.pid,
    containerId: podContainerId(options.name),
    networks: options.networks.map((name, index) => ({ name, ifname: `eth${index}` })),
    ports: options.ports,
    ...(options.ip ? { ip: options.ip } : {}),
    ...(options.mac ? { mac: options.mac } : {}),
    restart: options.restart ?? 'no',
    containers: [],
  };
  return { record, lists };
}

export async function createPod(ctx: PodContext, options: CreateOptions): Promise<PodRecord> {
  const { record, lists } = await prepare(ctx, options);
  return ctx.store.locked(record.name, async () => {
    if (await ctx.store.read(record.name)) throw new PodError(`pod ${record.name} already exists`);
    await save(ctx, record);
    const attached: Array<{ list: ConfList; ifname: string }> = [];
    let jailCreated = false;
    try {
      if (record.mode === 'bridge' || record.mode === 'none') {
        await ctx.host.createVnetJail(record.jail, { hostname: record.name, childrenMax: CHILDREN_MAX });
        jailCreated = true;
        await ctx.host.addAddress(ctx.host.loopback, '127.0.0.1/8', record.jail);
        await ctx.host.setUp(ctx.host.loopback, true, record.jail);
      } else {
        // host mode shares the host's stack, container mode the other pod's: no vnet of their own.
        const childrenMax = record.mode === 'container' ? SHARER_CHILDREN_MAX : CHILDREN_MAX;
        await ctx.host.createChildJail(record.jail, { path: '/', hostname: record.name, childrenMax });
        jailCreated = true;
      }
      for (const [index, list] of lists.entries()) {
        const network = record.networks[index] as PodRecord['networks'][number];
        const result = await ctx.runner.add(list, runtimeConf(record, ctx.host.netnsOf(record.jail), network.ifname));
        attached.push({ list, ifname: network.ifname });
        network.result = result;
      }
      record.state = 'ready';
      await save(ctx, record);
      return record;
    } catch (error) {
      for (const { list, ifname } of attached.reverse()) {
        await ctx.runner.del(list, runtimeConf(record, ctx.host.netnsOf(record.jail), ifname)).catch(() => undefined);
      }
      if (jailCreated) {
        await ctx.host.removeJail(record.jail).catch(() => undefined);
        await ctx.host.waitJailGone(record.jail, ctx.teardownTimeoutMs).catch(() => undefined);
      }
      if (!ctx.planning) await ctx.store.remove(record.name);
      throw error;
    }
  });
}

/** A --restart always pod's record once its network is gone: kept so that it comes back. */
export function stopped(record: PodRecord): PodRecord {
  return { ...record, state: 'stopped', containers: [], networks: record.networks.map(({ name, ifname }) => ({ name, ifname })) };
}

/** Re-creates the pods marked --restart always that are stopped (rc.d start, after gc). */
export async function restorePods(ctx: PodContext): Promise<PodRecord[]> {
  const restored: PodRecord[] = [];
  for (const record of (await ctx.store.all()).filter((p) => p.restart === 'always' && p.state === 'stopped')) {
    if (!ctx.planning) await ctx.store.remove(record.name);
    restored.push(
      await createPod(ctx, {
        name: record.name,
        networks: record.networks.map((n) => n.name),
        mode: record.mode === 'container' ? `container:${record.sharesWith}` : record.mode,
        ports: record.ports,
        ip: record.ip,
        mac: record.mac,
        restart: 'always',
      }),
    );
  }
  return restored;
}

export async function addContainer(ctx: PodContext, pod: string, name: string, options: { path: string; hostname?: string }): Promise<PodRecord> {
  validatePodName(pod);
  validateContainerName(name);
  if (!options.path.startsWith('/') || options.path.split('/').includes('..')) throw new PodError(`container path must be absolute, without "..": ${options.path}`);
  if (options.hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(options.hostname)) throw new PodError(`invalid hostname "${options.hostname}"`);
  return ctx.store.locked(pod, async () => {
    const record = await ctx.store.read(pod);
    if (!record || record.state !== 'ready') throw new PodError(`pod ${pod} does not exist`);
    if (record.containers.some((c) => c.name === name)) throw new PodError(`container ${name} already exists in pod ${pod}`);
    const jail = `${record.jail}.${name}`;
    const hostname = options.hostname ?? name;
    await ctx.host.createChildJail(jail, { path: options.path, hostname });
    record.containers.push({ name, jail, path: options.path, hostname });
    await save(ctx, record);
    return record;
  });
}

export async function removeContainer(ctx: PodContext, pod: string, name: string): Promise<void> {
  validatePodName(pod);
  validateContainerName(name);
  await ctx.store.locked(pod, async () => {
    const record = await ctx.store.read(pod);
    if (!record) throw new PodError(`pod ${pod} does not exist`);
    const container = record.containers.find((c) => c.name === name);
    if (!container) throw new PodError(`container ${name} does not exist in pod ${pod}`);
    await ctx.host.removeJail(container.jail);
    await ctx.host.waitJailGone(container.jail, ctx.teardownTimeoutMs);
    record.containers = record.containers.filter((c) => c.name !== name);
    await save(ctx, record);
  });
}

/**
 * Removes a pod in the fixed order: containers (only with force), the CNI DEL chains in
 * reverse, `jail -r`, a bounded wait until `jls -d` no longer lists the jail.
 */
export async function removePod(
  ctx: PodContext,
  name: string,
  options: { force: boolean; keepRestartRecord?: boolean },
): Promise<{ record: PodRecord; cleaned: string[] }> {
  validatePodName(name);
  const sharers = (await ctx.store.all()).filter((p) => p.sharesWith === name);
  if (sharers.length > 0) throw new PodError(`pod ${name} shares its network with ${sharers.map((p) => p.name).join(', ')}: remove them first`);
  return ctx.store.locked(name, async () => {
    const record = await ctx.store.read(name);
    if (!record) throw new PodError(`pod ${name} does not exist`);
    if (record.containers.length > 0 && !options.force) {
      throw new PodError(`pod ${name} has running containers (${record.containers.map((c) => c.name).join(', ')}): stop them or use --force`);
    }
    record.state = 'removing';
    await save(ctx, record);
    for (const container of record.containers) {
      await ctx.host.removeJail(container.jail);
      await ctx.host.waitJailGone(container.jail, ctx.teardownTimeoutMs);
    }
    record.containers = [];
    for (const network of [...record.networks].reverse()) {
      await ctx.runner.del(await ctx.network(network.name), runtimeConf(record, ctx.host.netnsOf(record.jail), network.ifname));
    }
    await ctx.host.removeJail(record.jail);
    await ctx.host.waitJailGone(record.jail, ctx.teardownTimeoutMs);
    const cleaned = ctx.planning ? [] : await cleanLeftovers(ctx, record);
    if (options.keepRestartRecord && record.restart === 'always') {
      await save(ctx, stopped(record));
    } else if (!ctx.planning) {
      await ctx.store.remove(name);
    }
    return { record, cleaned };
  });
}

