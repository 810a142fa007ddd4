// A pod's containers: child jails `<podjail>.<name>` with ip4=inherit ip6=inherit and
// no vnet, so they share the pod's addresses and cannot reconfigure its network.
import { validateContainerName, validatePodName } from '../names.js';
import { PodError, save, type PodContext } from './pods.js';
import { removeJailAndWait } from './remove.js';
import type { PodRecord } from './store.js';

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
    await removeJailAndWait(ctx, container.jail);
    record.containers = record.containers.filter((c) => c.name !== name);
    await save(ctx, record);
  });
}
