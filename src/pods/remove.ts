// `pod rm` in the fixed order — containers (with --force), the CNI DEL chains in
// reverse, `jail -r`, a bounded wait until the jail is gone — going on past a failure
// and reporting every one. A pod whose teardown failed stays recorded as "removing";
// a later `pod rm` or `jailnet gc` finishes the job.
import type { JailInfo } from '../hosts/host.js';
import { validatePodName } from '../names.js';
import { unplug } from '../runtime-net/interfaces.js';
import { Teardown } from '../util/teardown.js';
import { cleanLeftovers } from './leftovers.js';
import { busyWith, PodError, runtimeConf, save, stopped, type PodContext } from './pods.js';
import type { PodRecord } from './store.js';

const present = (jails: JailInfo[], name: string) => jails.some((j) => j.name === name && !j.dying);

/** Takes a pod's containers, networks and jail away, each step attempted; `record.containers` keeps the ones that stayed. */
export async function teardownPod(ctx: PodContext, record: PodRecord, teardown: Teardown): Promise<void> {
  const jails = await ctx.host.listJails();
  const remaining: PodRecord['containers'] = [];
  for (const container of record.containers) {
    const gone = !present(jails, container.jail) || (await teardown.step(`container ${container.name}`, () => removeJailAndWait(ctx, container.jail)));
    if (!gone) remaining.push(container);
  }
  record.containers = remaining;
  await unplugRuntimeInterfaces(ctx, record, teardown);
  await destroyObservedInterfaces(ctx, record);
  for (const network of [...record.networks].reverse()) {
    await teardown.step(`DEL ${network.name}/${network.ifname}`, async () => {
      await ctx.runner.del(await ctx.network(network.name), runtimeConf(record, ctx.host.netnsOf(record.jail), network.ifname));
    });
  }
  await teardown.step(`jail ${record.jail}`, () => removeJailAndWait(ctx, record.jail, present(jails, record.jail)));
}

/**
 * What the runtime API plugged in goes before the networks and the jail: a tap left in a
 * vnet would come back to the host under its in-pod name when the jail goes.
 */
async function unplugRuntimeInterfaces(ctx: PodContext, record: PodRecord, teardown: Teardown): Promise<void> {
  const remaining = [];
  for (const entry of [...record.runtime.interfaces].reverse()) {
    if (!(await teardown.step(`runtime interface ${entry.name}`, () => unplug(ctx.host, record.jail, entry)))) remaining.unshift(entry);
  }
  // The balancer's rules go with the pod's stack; a --restart always pod keeps them for its restore.
  record.runtime = { ...record.runtime, interfaces: remaining, routes: [] };
}

/**
 * Interfaces someone else added to the pod (netmon recorded them) go before the jail, or
 * a cloned one would come back to the host when the vnet goes. One that cannot be
 * destroyed (a NIC handed to the pod) goes back to the host with the vnet: not an error.
 * Their addresses and routes go with the pod's stack.
 */
async function destroyObservedInterfaces(ctx: PodContext, record: PodRecord): Promise<void> {
  for (const name of record.observed.interfaces) await ctx.host.destroyInterface(name, record.jail).catch(() => undefined);
  record.observed = { interfaces: [], addresses: [], routes: [] };
}

/** `jail -r` (when the jail is there) and the bounded wait until it is gone, dying state included. */
export async function removeJailAndWait(ctx: PodContext, jail: string, present = true): Promise<void> {
  if (present) await ctx.host.removeJail(jail);
  await ctx.host.waitJailGone(jail, ctx.teardownTimeoutMs);
}

/** After a complete teardown: the record goes, or stays "stopped" for a --restart always pod being kept. */
export async function forget(ctx: PodContext, record: PodRecord, keepRestartRecord: boolean): Promise<void> {
  if (keepRestartRecord && record.restart === 'always') await save(ctx, stopped(record));
  else await ctx.store.remove(record.name);
}

async function sharersOf(ctx: PodContext, name: string): Promise<string[]> {
  return (await ctx.store.all()).filter((p) => p.sharesWith === name).map((p) => p.name);
}

export async function removePod(
  ctx: PodContext,
  name: string,
  options: { force: boolean; keepRestartRecord?: boolean },
): Promise<{ record: PodRecord; cleaned: string[] }> {
  validatePodName(name);
  const sharers = await sharersOf(ctx, name);
  if (sharers.length > 0) throw new PodError(`pod ${name} shares its network with ${sharers.join(', ')}: remove them first`);
  return ctx.store.locked(name, async () => {
    const record = await ctx.store.read(name);
    if (!record) throw new PodError(`pod ${name} does not exist`);
    const busy = busyWith(record);
    if (busy) throw new PodError(busy);
    if (record.containers.length > 0 && !options.force) {
      throw new PodError(`pod ${name} has running containers (${record.containers.map((c) => c.name).join(', ')}): stop them or use --force`);
    }
    // Who removes it is recorded first: gc leaves a pod alone while its remover lives.
    Object.assign(record, { state: 'removing', removerPid: process.pid });
    await save(ctx, record);
    const teardown = new Teardown();
    await teardownPod(ctx, record, teardown);
    if (teardown.failed) {
      await save(ctx, record);
      teardown.finish(`pod rm ${name}`);
    }
    const cleaned = ctx.planning ? [] : await cleanLeftovers(ctx, record);
    await forget(ctx, record, options.keepRestartRecord ?? false);
    return { record, cleaned };
  });
}
