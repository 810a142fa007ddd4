// The firewall plugin: ingressPolicy "open" (the default) or "same-bridge". With
// same-bridge, pods of other jailnet networks cannot reach this network's pods. The
// rules live in jailnet's own pf anchor `jailnet-fw`, rebuilt from jailnet's records of
// every attachment under a lock, so a network created later is kept out as well.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import type { Result } from '../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../cni/skel.js';
import type { Host } from '../hosts/host.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { JsonRecords } from '../util/json-records.js';
import { AttachmentBase, attachmentKey as key, baseRecord, recordsDir } from './attachment-record.js';
import { attachmentsDir, pluginHost } from './host-for-plugin.js';
import { requirePrevResult, subnetsOf } from './passthrough.js';

export const FIREWALL_ANCHOR = 'jailnet-fw';
const POD_TABLE = 'jailnet-pods';

export const FirewallConfSchema = z.looseObject({
  ingressPolicy: z.enum(['open', 'same-bridge', '']).default('open'),
  backend: z.string().optional(),
});

const RecordSchema = AttachmentBase.extend({
  subnets: z.array(z.string()),
  isolated: z.boolean(),
});

type FirewallRecord = z.infer<typeof RecordSchema>;

async function records(): Promise<JsonRecords<FirewallRecord>> {
  return new JsonRecords(recordsDir(await attachmentsDir(), 'firewall'), RecordSchema);
}

/** The anchor's text for all recorded attachments: pure, so it is tested as data. */
export function firewallRules(all: Array<Pick<FirewallRecord, 'subnets' | 'isolated'>>): string {
  const everySubnet = [...new Set(all.flatMap((r) => r.subnets))].sort();
  const isolated = [...new Set(all.filter((r) => r.isolated).flatMap((r) => r.subnets))].sort();
  if (isolated.length === 0) return '';
  const lines = [`table <${POD_TABLE}> { ${everySubnet.join(', ')} }`];
  for (const subnet of isolated) {
    const af = subnet.includes(':') ? 'inet6' : 'inet';
    lines.push(`pass quick ${af} from ${subnet} to ${subnet}`);
    lines.push(`block drop quick ${af} from <${POD_TABLE}> to ${subnet}`);
  }
  return `${lines.join('\n')}\n`;
}

/** What jailnet last loaded into the anchor, so an unchanged rule set costs no pfctl at all. */
const LOADED_FILE = 'loaded.pf';

async function lastLoaded(host: Host, store: JsonRecords<FirewallRecord>): Promise<{ text: string; known: boolean }> {
  try {
    return { text: await fs.readFile(path.join(store.dir, LOADED_FILE), 'utf8'), known: true };
  } catch {
    // Not known yet: what pf holds decides whether there is anything to flush.
    return { text: (await host.showAnchor(FIREWALL_ANCHOR, 'rules')).length > 0 ? '(unknown)' : '', known: false };
  }
}

/**
 * Brings the anchor in line with the records, under the one lock of the anchor. The
 * records themselves are written outside it: only the rebuild must be serial.
 */
async function rebuild(host: Host, store: JsonRecords<FirewallRecord>): Promise<void> {
  await store.locked(async () => {
    const rules = firewallRules(await store.all());
    const loaded = await lastLoaded(host, store);
    if (rules !== loaded.text) {
      if (rules === '') await host.flushAnchor(FIREWALL_ANCHOR, 'all');
      else await host.loadAnchor(FIREWALL_ANCHOR, rules);
    } else if (loaded.known) {
      return;
    }
    await writeFileAtomic(path.join(store.dir, LOADED_FILE), rules);
  });
}

function loadConf(request: PluginRequest) {
  const conf = parseConfig(FirewallConfSchema, request.config);
  if (conf.backend && conf.backend !== 'pf') {
    throw new CniError(ErrorCode.UnsupportedField, `unsupported field "backend": "${conf.backend}"`, 'jailnet filters with pf');
  }
  return conf;
}

async function add(request: PluginRequest): Promise<Result> {
  const prev = requirePrevResult(request, 'firewall');
  const conf = loadConf(request);
  const store = await records();
  const id = key(request.config.name as string, request.containerId, request.ifname);
  await store.write(id, { ...baseRecord(request), subnets: subnetsOf(prev), isolated: conf.ingressPolicy === 'same-bridge' });
  try {
    await rebuild(pluginHost(), store);
  } catch (error) {
    await store.remove(id);
    throw error;
  }
  return prev;
}

async function del(request: PluginRequest): Promise<void> {
  loadConf(request);
  const store = await records();
  const id = key(request.config.name as string, request.containerId, request.ifname);
  if (!(await store.read(id))) return;
  await store.remove(id);
  await rebuild(pluginHost(), store);
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
  loadConf(request);
  const network = request.config.name as string;
  const keep = new Set(valid.map((a) => key(network, a.containerID, a.ifname)));
  const store = await records();
  for (const record of await store.all()) {
    const id = key(record.network, record.containerId, record.ifname);
    if (record.network === network && !keep.has(id)) await store.remove(id);
  }
  await rebuild(pluginHost(), store);
}

async function check(request: PluginRequest): Promise<void> {
  const conf = loadConf(request);
  if (conf.ingressPolicy !== 'same-bridge') return;
  const prev = requirePrevResult(request, 'firewall');
  const rules = await pluginHost().showAnchor(FIREWALL_ANCHOR, 'rules');
  for (const subnet of subnetsOf(prev)) {
    if (!rules.some((r) => r.includes(`to ${subnet}`) && r.startsWith('block'))) {
      throw new CniError(ErrorCode.CheckFailed, `no isolation rule for ${subnet} in pf anchor ${FIREWALL_ANCHOR}`);
    }
  }
}

const nothing = async (): Promise<void> => undefined;

export const firewall: Plugin = { add, del, check, gc, status: nothing };
