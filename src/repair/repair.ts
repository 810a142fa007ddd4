// `jailnet repair` and netmon's one pass: the desired state from the records, the drift
// from a read of the host, and each drift's repair step applied in one place, going on
// past a failure and reporting every one (as netavark's teardown does). Every step puts
// a thing back as the records say it, so a repair interrupted at any host command is
// finished by the next, and ten repairs leave the host as the first did.
import { emptyRules } from '../balancer/rules.js';
import { dropStaleNames, restartAardvark } from '../dns/dns-check.js';
import type { ExecDoor } from '../hosts/exec.js';
import type { Host } from '../hosts/host.js';
import { bridgeRecords } from '../plugins/attachment-record.js';
import { firewallRecords } from '../plugins/firewall.js';
import { portmapRecords } from '../plugins/portmap.js';
import { tuningRecords } from '../plugins/tuning.js';
import type { ObservedNet, PodStore } from '../pods/store.js';
import { noProgress, type ProgressFactory } from '../util/progress.js';
import { oneLine } from '../util/teardown.js';
import { audit, driftSubject, type AuditPart, type Drift, type RepairStep } from './audit.js';
import { desiredState, type DesiredState } from './desired.js';

export interface RepairScope {
  host: Host;
  store: PodStore;
  attachmentsDir: string;
  /** Progress of reading and repairing many pods (a terminal line from the CLI; none elsewhere). */
  progress?: ProgressFactory;
  /** The dnsname plugin's aardvark-dns: its directory, and how to start it again. */
  dns?: { dir: string; door: ExecDoor; binaries: string[] };
}

export async function loadDesired(scope: RepairScope): Promise<DesiredState> {
  const [bridges, publications, isolation, tunings, pods] = await Promise.all([
    bridgeRecords(scope.attachmentsDir).all(),
    portmapRecords(scope.attachmentsDir),
    firewallRecords(scope.attachmentsDir),
    tuningRecords(scope.attachmentsDir),
    scope.store.all(),
  ]);
  const { host } = scope;
  return desiredState({ bridges, publications, isolation, tunings, pods, sandboxOf: (jail) => host.sandboxOf(host.netnsOf(jail)) });
}

/** The drift of the host (of one pod and what is host-wide, with `pod`; only `parts`, when given). */
export async function findDrift(scope: RepairScope, pod?: string, parts?: readonly AuditPart[]): Promise<Drift[]> {
  const options = { ...(pod === undefined ? {} : { pod }), ...(parts ? { parts } : {}), ...(scope.progress ? { progress: scope.progress } : {}), ...(scope.dns ? { dns: { dir: scope.dns.dir, attachmentsDir: scope.attachmentsDir } } : {}) };
  return audit(scope.host, await loadDesired(scope), options);
}

/** A pod's record of what someone else added: `found` merged in, `gone` taken out, under its lock (gone pods are left alone). */
async function recordObserved(store: PodStore, pod: string, found: ObservedNet, gone: ObservedNet): Promise<void> {
  await store.locked(pod, async () => {
    const record = await store.read(pod);
    if (!record || record.state !== 'ready') return;
    const same = (a: unknown) => (b: unknown) => JSON.stringify(a) === JSON.stringify(b);
    const merge = <T>(list: T[], add: T[], drop: T[]) => [...list.filter((x) => !drop.some(same(x))), ...add.filter((x) => !list.some(same(x)))];
    record.observed = {
      interfaces: merge(record.observed.interfaces, found.interfaces, gone.interfaces),
      addresses: merge(record.observed.addresses, found.addresses, gone.addresses),
      routes: merge(record.observed.routes, found.routes, gone.routes),
    };
    await store.write(record);
  });
}

/**
 * The pod's rules loaded from nothing (the driver's first load: pf on and forwarding in the
 * vnet and its hooks, or a fresh nft table, replacing whatever is left), under the pod's
 * lock and as its record says then, so a kata-ipvs change meanwhile is not undone.
 */
async function reloadBalancer(scope: RepairScope, pod: string): Promise<void> {
  await scope.store.locked(pod, async () => {
    const record = await scope.store.read(pod);
    if (!record || record.state !== 'ready' || !record.runtime.balancer) return;
    await scope.host.balancer.apply(emptyRules(), record.runtime.balancer, record.jail);
  });
}

/** The order steps go in: what rules hang on before the rules, the filter before links. */
const ORDER: Array<RepairStep['kind']> = ['base', 'publish', 'masquerade', 'isolation', 'up', 'address', 'route', 'sysctl', 'balancer', 'observe', 'names', 'dns'];

const FILTER_STEPS: ReadonlySet<RepairStep['kind']> = new Set(['base', 'publish', 'masquerade', 'isolation']);

async function applyStep(scope: RepairScope, step: RepairStep): Promise<void> {
  const { host } = scope;
  switch (step.kind) {
    case 'base':
      return host.filter.restoreBase();
    case 'publish':
      return void (await host.filter.publishPorts(step.publication));
    case 'masquerade':
      return host.filter.masquerade(step.addresses);
    case 'isolation':
      return host.filter.setIsolation(step.policy);
    case 'up':
      return host.setUp(step.name, true, step.vnet);
    case 'address':
      return host.addAddress(step.name, step.cidr, step.vnet);
    case 'route':
      return host.addRoute(step.destination, step.gateway, step.vnet);
    case 'sysctl':
      return host.sysctlSet(step.key, step.value, step.vnet);
    case 'balancer':
      return reloadBalancer(scope, step.pod);
    case 'observe':
      return recordObserved(scope.store, step.pod, step.found, step.gone);
    case 'dns':
      if (!scope.dns) throw new Error('no aardvark-dns to start here');
      return restartAardvark(scope.dns.door, step.dir, scope.dns.binaries);
    case 'names':
      if (!scope.dns) throw new Error('no aardvark-dns directory here');
      return dropStaleNames(scope.dns.door, step.dir, step.stale, scope.attachmentsDir, scope.dns.binaries);
  }
}

export interface RepairOutcome {
  /** Each drift repaired, as `pod: what`. */
  fixed: string[];
  /** Drift with no repair jailnet can make. */
  unfixable: string[];
  errors: string[];
}

/**
 * Drift whose steps are one host change: every pod's missing masquerade entries become
 * one `masquerade` of all of them (one pfctl or one nft transaction, not one per pod).
 */
function batched(drift: Drift[]): Array<{ subject: string; labels: string[]; step?: RepairStep }> {
  const label = (d: Drift) => `${driftSubject(d)}: ${d.what}`;
  const masq = drift.filter((d) => d.repair?.kind === 'masquerade');
  const addresses = masq.flatMap((d) => (d.repair?.kind === 'masquerade' ? d.repair.addresses : []));
  const rest = drift
    .filter((d) => d.repair?.kind !== 'masquerade')
    .map((d) => ({ subject: driftSubject(d), labels: [label(d)], ...(d.repair ? { step: d.repair } : {}) }));
  return masq.length === 0 ? rest : [...rest, { subject: 'masquerade', labels: masq.map(label), step: { kind: 'masquerade', addresses } }];
}

/** Applies each drift's repair in ORDER, every step attempted. */
export async function applyRepairs(scope: RepairScope, drift: Drift[]): Promise<RepairOutcome> {
  const outcome: RepairOutcome = { fixed: [], unfixable: [], errors: [] };
  const rank = (b: { step?: RepairStep }) => (b.step ? ORDER.indexOf(b.step.kind) : ORDER.length);
  // What this process remembers of the filter was made before something else changed it.
  if (drift.some((d) => d.repair && FILTER_STEPS.has(d.repair.kind))) await scope.host.filter.resync();
  const batches = batched(drift).sort((a, b) => rank(a) - rank(b));
  const progress = (scope.progress ?? noProgress)('repairing', batches.length);
  for (const { subject, labels, step } of batches) {
    if (!step) outcome.unfixable.push(...labels);
    else {
      try {
        await applyStep(scope, step);
        outcome.fixed.push(...labels);
      } catch (error) {
        outcome.errors.push(...labels.map((l) => `${l}: ${oneLine(error)}`));
      }
    }
    progress.step(subject);
  }
  progress.done();
  return outcome;
}

/** One repair pass: the drift found, then repaired. */
export async function repair(scope: RepairScope, pod?: string): Promise<RepairOutcome> {
  return applyRepairs(scope, await findDrift(scope, pod));
}
