// `jailnet gc`: removes what belongs to pods that no longer exist — pods whose record
// never became ready because their creator died, and whatever a crash left on the
// host: jails, epair ends, leases, <cni-nat> entries, cni-rdr anchors, cache files.
import type { ConfList } from '../cni/conflist.js';
import { listNetworks } from '../cni/conflist.js';
import type { Attachment } from '../cni/skel.js';
import { anchorFor, RDR_PARENT } from '../plugins/portmap.js';
import { processAlive } from '../util/process.js';
import { stopped, type PodContext } from './pods.js';
import type { PodRecord } from './store.js';

/**
 * A pod exists when it is ready and its jail is there (a reboot or an admin's jail -r
 * takes it away), or while a live process is still creating or removing it.
 */
export function podExists(record: PodRecord, jails: Set<string>): boolean {
  if (record.state === 'ready') return jails.has(record.jail);
  if (record.state === 'stopped') return false;
  return processAlive(record.creatorPid);
}

const JAILNET_JAIL = /^jailnet-[A-Za-z0-9_-]+(\.|$)/;
const HOST_END_DESCRIPTION = /^jailnet: pod (\S+) ifname (\S+) network (\S+)$/;

export async function collectGarbage(ctx: PodContext, cniConfigDir: string): Promise<string[]> {
  const removed: string[] = [];
  const note = (what: string) => removed.push(what);
  const records = await ctx.store.all();
  const existing = new Set((await ctx.host.listJails()).map((j) => j.name));
  const live = records.filter((r) => podExists(r, existing));
  const liveJails = new Set(live.flatMap((p) => [p.jail, ...p.containers.map((c) => c.jail)]));

  // 1. Jails of pods that no longer exist, children first, then wait for them to be gone.
  const jails = await ctx.host.listJails({ dying: true });
  const orphans = jails.filter((j) => JAILNET_JAIL.test(j.name) && ![...liveJails].some((l) => j.name === l || j.name.startsWith(`${l}.`)));
  for (const jail of orphans.filter((j) => !j.dying).sort((a, b) => b.name.length - a.name.length)) {
    if (!(await ctx.host.listJails()).some((j) => j.name === jail.name)) continue;
    await ctx.host.removeJail(jail.name);
    note(`jail ${jail.name}`);
  }
  for (const jail of orphans) {
    await ctx.host.waitJailGone(jail.name, ctx.teardownTimeoutMs);
    if (jail.dying) note(`dying jail ${jail.name} (waited)`);
  }

  // 2. Per network: a full GC with the attachments of live pods as the valid ones.
  const valid: Attachment[] = live.flatMap((p) => p.networks.map((n) => ({ containerID: p.containerId, ifname: n.ifname })));
  const { lists } = await listNetworks(cniConfigDir);
  const used = new Set(records.flatMap((p) => p.networks.map((n) => n.name)));
  for (const list of lists.filter((l) => used.has(l.name) || isJailnetList(l))) {
    // jailnet's plugins answer GC for any list when jailnet itself asks (1.1.0).
    const asked: ConfList = { ...list, cniVersion: '1.1.0' };
    for (const key of await ctx.runner.gc(asked, valid).catch((error: Error) => {
      note(`network ${list.name}: ${error.message}`);
      return [];
    })) {
      note(`attachment ${key.network}/${key.containerId}/${key.ifname}`);
    }
  }

  // 3. What no record knows about: host epair ends described as jailnet's.
  for (const name of await ctx.host.listInterfaces()) {
    const info = await ctx.host.inspectInterface(name);
    const match = info?.description ? HOST_END_DESCRIPTION.exec(info.description) : null;
    if (!match || liveJails.has(match[1] as string)) continue;
    await ctx.host.destroyInterface(name);
    note(`interface ${name} (${info?.description})`);
  }

  // 4. Port publications of jailnet pods that are gone.
  const liveAnchors = new Set(live.flatMap((p) => p.networks.map((n) => anchorFor(p.containerId, n.ifname))));
  for (const anchor of await ctx.host.listAnchors(RDR_PARENT)) {
    if (!anchor.startsWith(`${RDR_PARENT}/jailnet-`) || liveAnchors.has(anchor)) continue;
    await ctx.host.flushAnchor(anchor, 'nat');
    note(`pf anchor ${anchor}`);
  }

  // 5. Records of pods that no longer exist; --restart always pods stay, stopped, for restore.
  for (const record of records.filter((r) => !podExists(r, existing))) {
    if (record.restart === 'always') {
      if (record.state !== 'stopped') await ctx.store.write(stopped(record));
      continue;
    }
    await ctx.store.remove(record.name);
    note(`pod record ${record.name} (${record.state})`);
  }
  return removed;
}

function isJailnetList(list: ConfList): boolean {
  try {
    return 'jailnet' in (JSON.parse(list.bytes.toString()) as object);
  } catch {
    return false;
  }
}

