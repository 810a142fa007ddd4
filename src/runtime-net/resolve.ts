// Which pod a runtime API call acts on: the ID resolves as the contract's does (patch
// 0013) — a full container ID, a unique prefix of one, or a pod name — to the pod that
// owns the network, which must be running.
import type { PodContext } from '../pods/pods.js';
import type { PodRecord } from '../pods/store.js';

/** A Kata container ID is 64 hex characters; anything shorter is a prefix. */
const FULL_ID_LENGTH = 64;

export class IdError extends Error {}

/** The pod the ID names, from the records; throws the contract's texts when none or several match. */
export function resolvePod(pods: PodRecord[], id: string): PodRecord {
  if (id === '' || /[\s\0-\x1f\x7f]/.test(id)) throw new IdError(`no such container ID (${JSON.stringify(id)})`);
  const byName = pods.find((p) => p.name === id);
  if (byName) return byName;
  const exact = pods.filter((p) => p.containerId === id);
  if (exact.length === 1) return exact[0] as PodRecord;
  const matches = id.length < FULL_ID_LENGTH ? pods.filter((p) => p.containerId.startsWith(id)) : [];
  if (matches.length === 0) throw new IdError(`no such container ID (${id})`);
  if (matches.length > 1) throw new IdError(`multiple containers found (${id})`);
  return matches[0] as PodRecord;
}

/** The pod whose network stack a call changes: a container-mode pod's is the pod it shares with. */
export async function networkOwner(ctx: PodContext, id: string): Promise<PodRecord> {
  let pod = resolvePod(await ctx.store.all(), id);
  if (pod.mode === 'container' && pod.sharesWith) {
    const owner = await ctx.store.read(pod.sharesWith);
    if (!owner) throw new IdError(`container ${id} is not running`);
    pod = owner;
  }
  if (pod.mode === 'host') throw new IdError(`pod ${pod.name} uses the host's network: it has no network of its own to change`);
  await checkRunning(ctx, pod, id);
  return pod;
}

/** kata-network needs the container running: a ready pod whose jail is there. */
export async function checkRunning(ctx: PodContext, pod: PodRecord, id: string): Promise<void> {
  const jails = await ctx.host.listJails();
  if (pod.state !== 'ready' || !jails.some((j) => j.name === pod.jail && !j.dying)) throw new IdError(`container ${id} is not running`);
}

/** Re-reads the pod under its lock: another call may have changed it since it was resolved. */
export async function lockedPod<T>(ctx: PodContext, id: string, work: (record: PodRecord) => Promise<T>): Promise<T> {
  const owner = await networkOwner(ctx, id);
  return ctx.store.locked(owner.name, async () => {
    const record = await ctx.store.read(owner.name);
    if (!record || record.state !== 'ready') throw new IdError(`container ${id} is not running`);
    return work(record);
  });
}
