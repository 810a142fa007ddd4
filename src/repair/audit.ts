// What the host holds, read through the host interface and compared with the desired
// state (desired.ts): each difference a Drift naming its pod, said in words, with the
// repair step that removes it as data (none where jailnet cannot put it back: an
// interface that is gone needs its pod re-created). Only reads.
import type { Host, InterfaceInfo } from '../hosts/host.js';
import { sortedForwards, type IsolationPolicy, type PortForward, type PortPublication } from '../hosts/packet-filter.js';
import { parseIP } from '../ipam/ip.js';
import { observedPhrases, type ObservedNet } from '../pods/store.js';
import { staleNames, unservedNames, type StaleName } from '../dns/dns-check.js';
import { noProgress, type ProgressFactory } from '../util/progress.js';
import { bare, routeKey, type DesiredBalancer, type DesiredLink, type DesiredPodNet, type DesiredState, type DesiredSysctl } from './desired.js';

export type RepairStep =
  | { kind: 'base' }
  | { kind: 'publish'; publication: PortPublication }
  | { kind: 'masquerade'; addresses: string[] }
  | { kind: 'isolation'; policy: IsolationPolicy }
  | { kind: 'up'; name: string; vnet?: string }
  | { kind: 'address'; name: string; cidr: string; vnet: string }
  | { kind: 'route'; destination: string; gateway: string; vnet: string }
  /** A sysctl of a pod's vnet set again to what the tuning plugin set. */
  | { kind: 'sysctl'; key: string; value: string; vnet: string }
  /** A pod's load balancer loaded again whole, as its record holds it when the step runs. */
  | { kind: 'balancer'; pod: string }
  /** aardvark-dns started again on the files of its directory (the dnsname plugin's). */
  | { kind: 'dns'; dir: string }
  /** Names of containers without an attachment taken out of aardvark's files (if still so then). */
  | { kind: 'names'; dir: string; stale: StaleName[] }
  /** Records what someone else added to a pod (not a host change). */
  | { kind: 'observe'; pod: string; found: ObservedNet; gone: ObservedNet };

export interface Drift {
  /** The pod (a jailnet pod's name, else the sandbox), or HOST_WIDE. */
  pod: string;
  what: string;
  repair?: RepairStep;
}

/** What no one pod owns: jailnet's filter base and the isolation policy. */
export const HOST_WIDE = '(host)';

/** How a drift's owner is named to the admin: `pod NAME`, or `host`. */
export const driftSubject = (d: Drift): string => (d.pod === HOST_WIDE ? 'host' : `pod ${d.pod}`);

const forwardText = (f: PortForward) => `${f.hostIP ? `${f.hostIP}:` : ''}${f.hostPort}/${f.protocol} -> ${f.podAddress}:${f.podPort}`;
const sameList = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

async function filterDrift(host: Host, desired: DesiredState): Promise<Drift[]> {
  const drift: Drift[] = [];
  // No record asks anything of the filter: nothing to read (leftovers are gc's).
  if (desired.publications.length + desired.masqueraded.length + desired.isolation.isolated.length === 0) return drift;
  if (!(await host.filter.baseIntact())) drift.push({ pod: HOST_WIDE, what: "the base rules of jailnet's packet filter are missing", repair: { kind: 'base' } });
  for (const { pod, publication } of desired.publications) {
    const held = sortedForwards(await host.filter.publishedPorts(publication.owner));
    const want = sortedForwards(publication.forwards);
    if (JSON.stringify(held) === JSON.stringify(want)) continue;
    const missing = want.filter((f) => !held.some((h) => JSON.stringify(h) === JSON.stringify(f)));
    const what = missing.length > 0 ? `published port${missing.length > 1 ? 's' : ''} ${missing.map(forwardText).join(', ')} missing` : `published ports differ from the record (${held.map(forwardText).join(', ')})`;
    drift.push({ pod, what: `${publication.owner.ifname}: ${what}`, repair: { kind: 'publish', publication } });
  }
  if (desired.masqueraded.length > 0) {
    const held = new Set(await host.filter.masqueraded());
    const byPod = new Map<string, string[]>();
    for (const { pod, address } of desired.masqueraded.filter((m) => !held.has(m.address))) byPod.set(pod, [...(byPod.get(pod) ?? []), address]);
    for (const [pod, addresses] of byPod) drift.push({ pod, what: `not masqueraded: ${addresses.join(', ')}`, repair: { kind: 'masquerade', addresses } });
  }
  const isolated = await host.filter.isolatedSubnets();
  if (!sameList(isolated, desired.isolation.isolated)) {
    drift.push({ pod: HOST_WIDE, what: `isolated subnets are [${isolated.join(', ')}], the records say [${desired.isolation.isolated.join(', ')}]`, repair: { kind: 'isolation', policy: desired.isolation } });
  }
  return drift;
}

const staleText = (s: StaleName) => `${s.names[0] ?? s.containerId} (container ${s.containerId.slice(0, 12)} on ${s.file})`;

async function dnsDrift(dir: string, attachmentsDir: string): Promise<Drift[]> {
  const drift: Drift[] = [];
  const stale = await staleNames(dir, attachmentsDir);
  if (stale.length > 0) drift.push({ pod: HOST_WIDE, what: `aardvark-dns serves names of containers jailnet has no attachment for: ${stale.map(staleText).join(', ')}`, repair: { kind: 'names', dir, stale } });
  const files = await unservedNames(dir);
  if (files.length > 0) drift.push({ pod: HOST_WIDE, what: `aardvark-dns is not running while containers have names on ${files.join(', ')}`, repair: { kind: 'dns', dir } });
  return drift;
}

async function linkDrift(host: Host, link: DesiredLink): Promise<Drift | undefined> {
  const info = await host.inspectInterface(link.name, link.vnet);
  const where = link.vnet === undefined ? '' : ` in ${link.vnet}`;
  if (!info) return { pod: link.pod, what: `${link.role} ${link.name}${where} is gone (re-create the pod)` };
  if (!info.up) return { pod: link.pod, what: `${link.role} ${link.name}${where} is down`, repair: { kind: 'up', name: link.name, vnet: link.vnet } };
  return undefined;
}

async function balancerDrift(host: Host, balancer: DesiredBalancer): Promise<Drift | undefined> {
  const what = await host.balancer.drift(balancer.rules, balancer.vnet);
  return what === undefined ? undefined : { pod: balancer.pod, what, repair: { kind: 'balancer', pod: balancer.pod } };
}

async function sysctlDrift(host: Host, wanted: DesiredSysctl): Promise<Drift | undefined> {
  const held = await host.sysctlGet(wanted.key, wanted.vnet);
  if (held === wanted.value) return undefined;
  return { pod: wanted.pod, what: `sysctl ${wanted.key} is ${held}, tuned to ${wanted.value}`, repair: { kind: 'sysctl', key: wanted.key, value: wanted.value, vnet: wanted.vnet } };
}

/** The addresses an interface holds that count: not IPv6 link-local ones, which the kernel gives every interface. */
const addressesOf = (info: InterfaceInfo): string[] => [...info.inet, ...info.inet6].map((a) => a.address).filter((a) => !/^fe80:/i.test(a));

/** What a pod's vnet holds: each interface (not loopback) with its addresses, and its routes through a gateway. */
export interface VnetView {
  interfaces: Map<string, string[]>;
  routes: string[];
}

async function readVnet(host: Host, pod: DesiredPodNet): Promise<VnetView> {
  const interfaces = new Map<string, string[]>();
  for (const name of await host.listInterfaces(pod.vnet)) {
    if (name === host.loopback) continue;
    // Someone else's recorded interface: only whether it is still there counts.
    const info = pod.observed.interfaces.includes(name) ? undefined : await host.inspectInterface(name, pod.vnet);
    interfaces.set(name, info ? addressesOf(info) : []);
  }
  const routes = (await host.listRoutes(pod.vnet)).filter((r) => parseIP(r.gateway) !== null).map((r) => routeKey(r.destination, r.gateway, r.family));
  return { interfaces, routes };
}

const observedText = (net: ObservedNet) => observedPhrases(net).join(', ');

/** What someone else added and is not recorded yet, and what was recorded and is gone since. */
function observedChanges(pod: DesiredPodNet, view: VnetView): { found: ObservedNet; gone: ObservedNet } {
  const { observed } = pod;
  const theirs = (name: string, address: string) => observed.addresses.some((a) => a.interface === name && a.address === address);
  const found: ObservedNet = { interfaces: [], addresses: [], routes: [] };
  for (const [name, held] of view.interfaces) {
    const own = pod.interfaces.get(name);
    if (observed.interfaces.includes(name)) continue;
    if (own === undefined) found.interfaces.push(name);
    else for (const address of held.filter((a) => !own.some((w) => bare(w) === a) && !theirs(name, a))) found.addresses.push({ interface: name, address });
  }
  found.routes = view.routes.filter((r) => !pod.routes.includes(r) && !observed.routes.includes(r));
  const gone: ObservedNet = {
    interfaces: observed.interfaces.filter((i) => !view.interfaces.has(i)),
    addresses: observed.addresses.filter((a) => !(view.interfaces.get(a.interface) ?? []).includes(a.address)),
    routes: observed.routes.filter((r) => !view.routes.includes(r)),
  };
  return { found, gone };
}

/** A pod's vnet against jailnet's records of it: pure, so it is tested as data. */
export function podNetDiff(pod: DesiredPodNet, view: VnetView): Drift[] {
  const drift: Drift[] = [];
  const at = (what: string, repair?: RepairStep): Drift => ({ pod: pod.pod, what, ...(repair ? { repair } : {}) });
  // An interface of jailnet's that is gone is a link's drift (linkDrift), not this one's.
  for (const [name, own] of pod.interfaces) {
    const held = view.interfaces.get(name);
    if (held === undefined) continue;
    for (const cidr of own.filter((w) => w.includes('/') && !held.includes(bare(w)))) drift.push(at(`address ${cidr} of ${name} is gone`, { kind: 'address', name, cidr, vnet: pod.vnet }));
  }
  for (const key of pod.routes.filter((r) => !view.routes.includes(r))) {
    const [destination, gateway] = key.split(' via ') as [string, string];
    drift.push(at(`route ${key} is gone`, { kind: 'route', destination, gateway, vnet: pod.vnet }));
  }
  const { found, gone } = observedChanges(pod, view);
  const said = [observedText(found) && `added by someone else, not yet recorded: ${observedText(found)}`, observedText(gone) && `recorded as added by someone else, gone since: ${observedText(gone)}`];
  if (said.some(Boolean)) drift.push(at(said.filter(Boolean).join('; '), { kind: 'observe', pod: pod.pod, found, gone }));
  return drift;
}

/**
 * The pods whose sandbox is gone (a crash or a reboot took it; records stay until gc):
 * one look per pod vnet. netmon looks on its whole passes and hands the answer to the
 * filter ticks between them, which would otherwise ask it of every pod twice a second.
 */
export async function podsGone(host: Host, desired: DesiredState): Promise<Set<string>> {
  const gone = new Set<string>();
  for (const link of desired.links) {
    if (link.vnet !== undefined && !gone.has(link.pod) && (await host.sandboxState(link.vnet)) === 'missing') gone.add(link.pod);
  }
  return gone;
}

/** What an audit reads: the packet filter (cheap: netmon's every tick), links, the pods' vnets (their load balancers too). */
export type AuditPart = 'filter' | 'links' | 'pods';
export const ALL_PARTS: readonly AuditPart[] = ['filter', 'links', 'pods'];

/**
 * Every drift of the host from the desired state, in `parts`; with `pod`, that pod's and
 * what is host-wide. Attachments whose sandbox is gone are gc's (`jailnet gc`), not drift.
 */
export interface AuditOptions {
  pod?: string;
  parts?: readonly AuditPart[];
  /** The pods known gone (netmon's last whole pass); looked up when not given. */
  gone?: ReadonlySet<string>;
  /** A step per link and per pod read (`jailnet repair` on a terminal). */
  progress?: ProgressFactory;
  /** The dnsname plugin's aardvark-dns directory: names there must be served, and be of attachments jailnet has (read with the filter). */
  dns?: { dir: string; attachmentsDir: string };
}

export async function audit(host: Host, desired: DesiredState, options: AuditOptions = {}): Promise<Drift[]> {
  const { pod, parts = ALL_PARTS } = options;
  const gonePods = options.gone ?? (await podsGone(host, desired));
  const mine = (p: string) => pod === undefined || p === pod || p === HOST_WIDE;
  const live = (p: { pod: string }) => mine(p.pod) && !gonePods.has(p.pod);
  const scoped: DesiredState = {
    ...desired,
    publications: desired.publications.filter(live),
    masqueraded: desired.masqueraded.filter(live),
    links: parts.includes('links') ? desired.links.filter(live) : [],
    pods: parts.includes('pods') ? desired.pods.filter(live) : [],
    balancers: parts.includes('pods') ? desired.balancers.filter(live) : [],
    sysctls: parts.includes('pods') ? desired.sysctls.filter(live) : [],
  };
  const drift = parts.includes('filter') ? await filterDrift(host, scoped) : [];
  if (parts.includes('filter') && options.dns !== undefined) drift.push(...(await dnsDrift(options.dns.dir, options.dns.attachmentsDir)));
  const progress = (options.progress ?? noProgress)('checking pods', scoped.links.length + scoped.pods.length + scoped.balancers.length + scoped.sysctls.length);
  try {
    for (const link of scoped.links) {
      const found = await unlessGone(host, link.vnet, () => linkDrift(host, link));
      if (found) drift.push(found);
      progress.step(link.pod === HOST_WIDE ? link.name : link.pod);
    }
    for (const net of scoped.pods) {
      drift.push(...((await unlessGone(host, net.vnet, async () => podNetDiff(net, await readVnet(host, net)))) ?? []));
      progress.step(net.pod);
    }
    for (const balancer of scoped.balancers) {
      const found = await unlessGone(host, balancer.vnet, () => balancerDrift(host, balancer));
      if (found) drift.push(found);
      progress.step(balancer.pod);
    }
    for (const sysctl of scoped.sysctls) {
      const found = await unlessGone(host, sysctl.vnet, () => sysctlDrift(host, sysctl));
      if (found) drift.push(found);
      progress.step(sysctl.pod);
    }
  } finally {
    progress.done();
  }
  return drift;
}

/**
 * A read inside a vnet that fails because the vnet went meanwhile (a pod removed while
 * netmon looked) is no drift and no error: the pod is gone, its records go with it.
 */
async function unlessGone<T>(host: Host, vnet: string | undefined, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (vnet !== undefined && (await host.sandboxState(vnet)) === 'missing') return undefined;
    throw error;
  }
}
