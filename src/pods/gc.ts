// `jailnet gc`: removes what belongs to pods and attachments that no longer exist, and
// says what. Two rules keep it from taking what is alive:
//  - a pod is collected only under its lock and only when no live process is creating
//    or removing it (a busy pod is skipped, not waited for);
//  - an attachment a runtime made through CNI (podman's) belongs to that runtime: it is
//    collected only when its sandbox, the jail CNI_NETNS names, no longer exists.
// What is owned is read before its owner (records before jails), so an owner made in
// between is never missed. Every step is attempted; every error is reported.
import type { ChainRunner, RuntimeConf } from '../cni/chain.js';
import type { CacheEntry } from '../cni/cache.js';
import { findNetwork, parseConfList, type ConfList } from '../cni/conflist.js';
import { recordedAttachments, type RecordedAttachment } from '../plugins/attachment-record.js';
import { parseHostInterfaceDescription } from '../persistent-names.js';
import { noProgress } from '../util/progress.js';
import { Teardown } from '../util/teardown.js';
import { cleanLeftovers } from './leftovers.js';
import { podAlive, podContainerId, save, type PodContext } from './pods.js';
import { forget, teardownPod } from './remove.js';
import { sweepStaleLocks } from './stale-locks.js';
import type { PodRecord } from './store.js';
import { unplug } from '../runtime-net/interfaces.js';

export interface GcReport {
  removed: string[];
  /** What gc left alone this time, and why (a pod being worked on). */
  skipped: string[];
  errors: string[];
}

/** Tears a dead pod down; called under the pod's lock. */
async function collectPod(ctx: PodContext, name: string, report: GcReport): Promise<void> {
  const record = await ctx.store.read(name);
  if (!record) return;
  const jails = await ctx.host.listJails({ dying: true });
  if (podAlive(record, jails)) return collectHalfAdded(ctx, record, report);
  const jailThere = jails.some((j) => j.name === record.jail);
  if (record.state === 'stopped' && !jailThere) return;
  const was = record.state;
  Object.assign(record, { state: 'removing', removerPid: process.pid });
  await save(ctx, record);
  const teardown = new Teardown();
  await teardownPod(ctx, record, teardown);
  if (teardown.failed) {
    await save(ctx, record);
    report.errors.push(...teardown.errors.map((e) => `pod ${name}: ${e}`));
    return;
  }
  const cleaned = ctx.planning ? [] : await cleanLeftovers(ctx, record);
  await forget(ctx, record, true);
  report.removed.push(`pod ${name} (${was}${jailThere ? `, jail ${record.jail}` : ''})`, ...cleaned.map((c) => `pod ${name}: ${c}`));
}

/**
 * A live pod's runtime interfaces still "adding" under the pod's lock were left by an
 * add-iface that died (it holds the lock while it works): they are taken away.
 */
async function collectHalfAdded(ctx: PodContext, record: PodRecord, report: GcReport): Promise<void> {
  const stale = record.runtime.interfaces.filter((i) => i.state === 'adding');
  if (record.state !== 'ready' || stale.length === 0) return;
  for (const entry of stale) {
    try {
      await unplug(ctx.host, record.jail, entry);
      record.runtime.interfaces = record.runtime.interfaces.filter((i) => i !== entry);
      report.removed.push(`pod ${record.name}: runtime interface ${entry.name} (device ${entry.device}) half added`);
    } catch (error) {
      report.errors.push(`pod ${record.name}: runtime interface ${entry.name}: ${(error as Error).message}`);
    }
  }
  await save(ctx, record);
}

async function collectPods(ctx: PodContext, report: GcReport): Promise<void> {
  const records = await ctx.store.all();
  const progress = (ctx.progress ?? noProgress)('checking pods', records.length);
  // Pods that share another's network go first, as pod rm wants.
  for (const record of [...records.filter((p) => p.sharesWith), ...records.filter((p) => !p.sharesWith)]) {
    if (await ctx.store.busy(record.name)) report.skipped.push(`pod ${record.name}: another process is working on it`);
    else await ctx.store.locked(record.name, () => collectPod(ctx, record.name, report));
    progress.step(record.name);
  }
  progress.done();
}

interface Candidate extends Omit<RecordedAttachment, 'records'> {
  records: RecordedAttachment['records'];
  cached?: CacheEntry;
}

/** Attachments known from the result cache and from the plugins' records, by key. */
async function candidates(ctx: PodContext): Promise<Candidate[]> {
  const byKey = new Map<string, Candidate>();
  const key = (network: string, containerId: string, ifname: string) => `${network}\n${containerId}\n${ifname}`;
  for (const entry of await recordedAttachments(ctx.attachmentsDir)) byKey.set(key(entry.network, entry.containerId, entry.ifname), entry);
  for (const cached of await ctx.runner.cachedAttachments()) {
    const k = key(cached.networkName, cached.containerId, cached.ifName);
    const known = byKey.get(k);
    if (known) known.cached = cached;
    else byKey.set(k, { network: cached.networkName, containerId: cached.containerId, ifname: cached.ifName, netns: cached.netns ?? '', records: [], cached });
  }
  return [...byKey.values()];
}

/** The lists to DEL an attachment with: the one ADD used (cached), the network's, or each recorded plugin alone. */
async function delLists(ctx: PodContext, attachment: Candidate): Promise<ConfList[]> {
  if (attachment.cached?.config) return [parseConfList(Buffer.from(attachment.cached.config, 'base64'), 'the cached config')];
  const named = await findNetwork(ctx.cniConfigDir, attachment.network).catch(() => undefined);
  if (named) return [named];
  return attachment.records.map(({ record }) => {
    const list = { cniVersion: record.cniVersion, name: record.network, plugins: [record.plugin] };
    return parseConfList(Buffer.from(JSON.stringify(list)), `the record of ${record.network}`);
  });
}

async function delAttachment(runner: ChainRunner, lists: ConfList[], attachment: Candidate): Promise<void> {
  const rt: RuntimeConf = {
    containerId: attachment.containerId,
    netns: attachment.netns,
    ifname: attachment.ifname,
    args: attachment.cached?.cniArgs ?? [],
    capabilityArgs: attachment.cached?.capabilityArgs ?? {},
  };
  for (const list of lists) await runner.del(list, rt);
}

/** Whether the sandbox an attachment was made for is gone (an unusable CNI_NETNS counts as gone). */
async function sandboxGone(ctx: PodContext, netns: string): Promise<boolean> {
  let vnet: string;
  try {
    vnet = ctx.host.sandboxOf(netns);
  } catch {
    return netns === '';
  }
  return (await ctx.host.sandboxState(vnet)) === 'missing';
}

async function collectAttachments(ctx: PodContext, report: GcReport): Promise<void> {
  const attachments = await candidates(ctx);
  const pods = new Set((await ctx.store.all()).map((p) => podContainerId(p.name)));
  const teardown = new Teardown();
  for (const attachment of attachments) {
    // A jailnet pod's attachments go with the pod, above.
    if (pods.has(attachment.containerId)) continue;
    if (!(await sandboxGone(ctx, attachment.netns))) continue;
    const what = `attachment ${attachment.network}/${attachment.containerId}/${attachment.ifname}`;
    const done = await teardown.step(what, async () => delAttachment(ctx.runner, await delLists(ctx, attachment), attachment));
    if (done) report.removed.push(`${what} (its sandbox ${attachment.netns || '(none)'} is gone)`);
  }
  report.errors.push(...teardown.errors);
}

/** A teardown running at the same time (its DEL) may destroy it first: gone is gone. */
async function destroyIfPresent(ctx: PodContext, name: string): Promise<void> {
  try {
    await ctx.host.destroyInterface(name);
  } catch (error) {
    if (await ctx.host.inspectInterface(name)) throw error;
  }
}

/** Host ends described as jailnet's that no record knows, whose jail is gone. */
async function collectInterfaces(ctx: PodContext, report: GcReport): Promise<void> {
  const teardown = new Teardown();
  for (const name of await ctx.host.listInterfaces()) {
    const info = await ctx.host.inspectInterface(name);
    const mark = parseHostInterfaceDescription(info?.description);
    if (!mark || !(await sandboxGone(ctx, mark.jail))) continue;
    if (await teardown.step(`interface ${name}`, () => destroyIfPresent(ctx, name))) report.removed.push(`interface ${name} (${info?.description})`);
  }
  report.errors.push(...teardown.errors);
}

export async function collectGarbage(ctx: PodContext): Promise<GcReport> {
  const report: GcReport = { removed: [], skipped: [], errors: [] };
  await collectPods(ctx, report);
  await collectAttachments(ctx, report);
  await collectInterfaces(ctx, report);
  for (const file of await sweepStaleLocks(ctx.stateDir, ctx.cniConfigDir, !ctx.planning)) report.removed.push(`stale lock ${file}`);
  return report;
}
