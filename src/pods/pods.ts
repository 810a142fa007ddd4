// Pods: a parent jail rooted at `/` that owns the pod's network (a vnet of its own in
// bridge and none modes), child jails for containers with ip4=inherit ip6=inherit, and
// a teardown in a fixed order around the containers' lifecycle. What create, remove,
// the containers and gc share lives here.
import type { ChainRunner, RuntimeConf } from '../cni/chain.js';
import type { ConfList } from '../cni/conflist.js';
import type { Host, JailInfo } from '../hosts/host.js';
import { processAlive } from '../util/process.js';
import type { ProgressFactory } from '../util/progress.js';
import type { PodRecord, PodStore } from './store.js';
export { podContainerId, podJailName } from '../persistent-names.js';

export class PodError extends Error {}

export type PodMode = PodRecord['mode'];

export interface PodContext {
  host: Host;
  runner: ChainRunner;
  store: PodStore;
  /** Looks a network up by name (the CNI config dir). */
  network(name: string): Promise<ConfList>;
  teardownTimeoutMs: number;
  /** --dry-run: changes are recorded in the plan, not made. */
  planning: boolean;
  /** [network] disable_new_netns: pods get no network of their own (host mode). */
  disableNewNetns: boolean;
  /** jailnet's state dir, and where its plugins keep their attachment records (gc reads them). */
  stateDir: string;
  attachmentsDir: string;
  /** The CNI config dir (gc looks networks up there). */
  cniConfigDir: string;
  /** Progress of work over many pods or rules (a terminal line from the CLI; none elsewhere). */
  progress?: ProgressFactory;
}


/** What the chain's capabilities get: the published ports, and the aliases by network (dnsname's `aliases`). */
function capabilityArgsOf(record: PodRecord): Record<string, unknown> {
  return {
    ...(record.ports.length > 0 ? { portMappings: record.ports } : {}),
    ...(record.aliases.length > 0 ? { aliases: Object.fromEntries(record.networks.map((n) => [n.name, record.aliases])) } : {}),
  };
}

export function runtimeConf(record: PodRecord, netns: string, ifname: string): RuntimeConf {
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
    capabilityArgs: capabilityArgsOf(record),
  };
}

export async function save(ctx: PodContext, record: PodRecord): Promise<void> {
  await ctx.store.write(record);
}

/** A --restart always pod's record once its network is gone: kept so that it comes back. */
export function stopped(record: PodRecord): PodRecord {
  const { removerPid: _remover, ...rest } = record;
  // What the runtime API hot-plugged belonged to the running pod; a restored pod starts
  // without it. The load balancer's rules are configuration: they come back with the pod.
  const { balancer } = record.runtime;
  return { ...rest, state: 'stopped', containers: [], runtime: { interfaces: [], routes: [], ...(balancer ? { balancer } : {}) }, observed: { interfaces: [], addresses: [], routes: [] }, networks: record.networks.map(({ name, ifname }) => ({ name, ifname })) };
}

/**
 * A pod exists when it is ready and its jail is there (a reboot or an admin's jail -r
 * takes it away), or while a live process is still creating or removing it.
 */
export function podAlive(record: PodRecord, jails: JailInfo[]): boolean {
  if (record.state === 'ready') return jails.some((j) => j.name === record.jail && !j.dying);
  if (record.state === 'stopped') return false;
  const worker = record.state === 'removing' ? (record.removerPid ?? record.creatorPid) : record.creatorPid;
  return worker !== process.pid && processAlive(worker);
}

/** The live process working on the pod, if another one is. */
export function busyWith(record: PodRecord): string | undefined {
  if (record.state !== 'creating' && record.state !== 'removing') return undefined;
  const worker = record.state === 'removing' ? (record.removerPid ?? record.creatorPid) : record.creatorPid;
  if (worker === process.pid || !processAlive(worker)) return undefined;
  return `pod ${record.name} is being ${record.state === 'creating' ? 'created' : 'removed'} by process ${worker}`;
}
