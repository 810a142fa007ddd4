// `pod create` and `pod restore`: the pod's record first (state "creating"), then its
// jail, loopback and networks; on failure everything made is undone, and what could not
// be undone is reported with the failure, the record left for gc to finish.
import { emptyRules, type BalancerRules } from '../balancer/rules.js';
import type { ConfList } from '../cni/conflist.js';
import { describeClash, hostPortClash } from '../cni/port-mapping.js';
import { parseIP } from '../ipam/ip.js';
import { isUnicastMac, validateDnsAlias, validatePodName } from '../names.js';
import { noProgress } from '../util/progress.js';
import { Teardown } from '../util/teardown.js';
import { PodError, podContainerId, podJailName, runtimeConf, save, stopped, type PodContext, type PodMode } from './pods.js';
import { removeJailAndWait } from './remove.js';
import type { PodRecord, PortMapping } from './store.js';

export interface CreateOptions {
  name: string;
  networks: string[];
  mode: string;
  ports: PortMapping[];
  ip?: string;
  mac?: string;
  /** DNS aliases on every network of the pod that has names (dnsname). */
  aliases?: string[];
  restart?: 'no' | 'always';
  /** A restored pod's load balancer (kata-ipvs): its rules come back with the pod. */
  balancer?: BalancerRules;
}

const CHILDREN_MAX = 64;
/** A jail below another pod's (container mode) must allow fewer children than its parent. */
const SHARER_CHILDREN_MAX = 32;

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

function checkOptions(ctx: PodContext, options: CreateOptions): { mode: PodMode; sharesWith?: string } {
  validatePodName(options.name);
  const requested = ctx.disableNewNetns && options.mode === 'bridge' && options.networks.length === 0 ? 'host' : options.mode;
  const parsed = parseMode(requested);
  if (ctx.disableNewNetns && (parsed.mode === 'bridge' || parsed.mode === 'none')) {
    throw new PodError(`[network] disable_new_netns is set: pods use the host's network, so --mode ${parsed.mode} cannot apply`);
  }
  // An empty value is an error, not the option left out.
  if (options.ip !== undefined && !parseIP(options.ip)) throw new PodError(`invalid --ip "${options.ip}"`);
  if (options.mac !== undefined && !isUnicastMac(options.mac)) throw new PodError(`invalid --mac "${options.mac}": a unicast MAC address is needed (not zero, broadcast or multicast)`);
  if (parsed.mode === 'bridge' && options.networks.length === 0) throw new PodError('bridge mode needs at least one --network');
  if (parsed.mode !== 'bridge' && (options.networks.length > 0 || options.ports.length > 0)) {
    throw new PodError(`--network and -p need bridge mode; this pod is in ${parsed.mode} mode`);
  }
  const clash = hostPortClash(options.ports);
  if (clash) throw new PodError(describeClash(clash));
  return parsed;
}

/** The jail a pod gets: its own, or one below the pod whose network it shares. */
async function jailFor(ctx: PodContext, name: string, sharesWith: string | undefined): Promise<string> {
  if (!sharesWith) return podJailName(name);
  const shared = await ctx.store.read(sharesWith);
  if (!shared || shared.state !== 'ready') throw new PodError(`pod ${sharesWith} does not exist`);
  if (shared.mode === 'host') throw new PodError(`pod ${sharesWith} is in host mode: there is no network to share`);
  // A jail below the other pod's jail inherits its vnet.
  return `${shared.jail}.${name}`;
}

/** Validates everything a create needs before the first change. */
async function prepare(ctx: PodContext, options: CreateOptions, restoring: boolean): Promise<{ record: PodRecord; lists: ConfList[] }> {
  const { mode, sharesWith } = checkOptions(ctx, options);
  const lists = [];
  for (const name of options.networks) lists.push(await ctx.network(name));
  if (!restoring && (await ctx.store.read(options.name))) throw new PodError(`pod ${options.name} already exists`);
  const record: PodRecord = {
    name: options.name,
    jail: await jailFor(ctx, options.name, sharesWith),
    mode,
    ...(sharesWith ? { sharesWith } : {}),
    state: 'creating',
    creatorPid: process.pid,
    containerId: podContainerId(options.name),
    networks: options.networks.map((name, index) => ({ name, ifname: `eth${index}` })),
    ports: options.ports,
    ...(options.ip ? { ip: options.ip } : {}),
    ...(options.mac ? { mac: options.mac } : {}),
    aliases: (options.aliases ?? []).map(validateDnsAlias),
    restart: options.restart ?? 'no',
    containers: [],
    runtime: { interfaces: [], routes: [], ...(options.balancer ? { balancer: options.balancer } : {}) },
    observed: { interfaces: [], addresses: [], routes: [] },
  };
  return { record, lists };
}

interface Built {
  jail: boolean;
  networks: Array<{ list: ConfList; ifname: string }>;
}

async function build(ctx: PodContext, record: PodRecord, lists: ConfList[], built: Built): Promise<void> {
  if (record.mode === 'bridge' || record.mode === 'none') {
    await ctx.host.createVnetJail(record.jail, { hostname: record.name, childrenMax: CHILDREN_MAX });
    built.jail = true;
    await ctx.host.addAddress(ctx.host.loopback, '127.0.0.1/8', record.jail);
    await ctx.host.setUp(ctx.host.loopback, true, record.jail);
  } else {
    // host mode shares the host's stack, container mode the other pod's: no vnet of their own.
    const childrenMax = record.mode === 'container' ? SHARER_CHILDREN_MAX : CHILDREN_MAX;
    await ctx.host.createChildJail(record.jail, { path: '/', hostname: record.name, childrenMax });
    built.jail = true;
  }
  for (const [index, list] of lists.entries()) {
    const network = record.networks[index] as PodRecord['networks'][number];
    // A chain that fails undoes its own plugins (ChainRunner.add); those before it are undone below.
    network.result = await ctx.runner.add(list, runtimeConf(record, ctx.host.netnsOf(record.jail), network.ifname));
    built.networks.push({ list, ifname: network.ifname });
  }
  // The balancer lives in the pod's own stack: it goes with the jail if the create is undone.
  if (record.runtime.balancer) await ctx.host.balancer.apply(emptyRules(), record.runtime.balancer, record.jail);
}

/** Undoes a failed create; rethrows its failure, with whatever could not be undone. */
async function undo(ctx: PodContext, record: PodRecord, built: Built, restoring: PodRecord | undefined, failure: unknown): Promise<never> {
  const teardown = new Teardown();
  for (const { list, ifname } of [...built.networks].reverse()) {
    await teardown.step(`DEL ${list.name}/${ifname}`, () => ctx.runner.del(list, runtimeConf(record, ctx.host.netnsOf(record.jail), ifname)));
  }
  if (built.jail) await teardown.step(`jail ${record.jail}`, () => removeJailAndWait(ctx, record.jail));
  // What could not be undone stays recorded ("creating", by a process about to exit): gc finishes it.
  teardown.finish(`pod create ${record.name}`, failure);
  if (restoring) await save(ctx, restoring);
  else await ctx.store.remove(record.name);
  throw failure;
}

export async function createPod(ctx: PodContext, options: CreateOptions, restoring?: PodRecord): Promise<PodRecord> {
  const { record, lists } = await prepare(ctx, options, restoring !== undefined);
  return ctx.store.locked(record.name, async () => {
    const existing = await ctx.store.read(record.name);
    if (existing && !(restoring && existing.state === 'stopped')) throw new PodError(`pod ${record.name} already exists`);
    await save(ctx, record);
    const built: Built = { jail: false, networks: [] };
    try {
      await build(ctx, record, lists, built);
    } catch (error) {
      return undo(ctx, record, built, restoring, error);
    }
    record.state = 'ready';
    await save(ctx, record);
    return record;
  });
}

/** Re-creates the pods marked --restart always that are stopped (rc.d start, after gc); one failure does not stop the others. */
export async function restorePods(ctx: PodContext): Promise<{ restored: PodRecord[]; errors: string[] }> {
  const restored: PodRecord[] = [];
  const errors = new Teardown();
  const due = (await ctx.store.all()).filter((p) => p.restart === 'always' && p.state === 'stopped');
  const progress = (ctx.progress ?? noProgress)('restoring pods', due.length);
  for (const record of due) {
    const options: CreateOptions = {
      name: record.name,
      networks: record.networks.map((n) => n.name),
      mode: record.mode === 'container' ? `container:${record.sharesWith}` : record.mode,
      ports: record.ports,
      ip: record.ip,
      mac: record.mac,
      restart: 'always',
      ...(record.runtime.balancer ? { balancer: record.runtime.balancer } : {}),
    };
    await errors.step(`pod ${record.name}`, async () => restored.push(await createPod(ctx, options, stopped(record))));
    progress.step(record.name);
  }
  progress.done();
  return { restored, errors: errors.errors };
}
