// The firewall plugin: ingressPolicy "open" (the default) or "same-bridge". With
// same-bridge, pods of other jailnet networks cannot reach this network's pods. The
// policy is computed from jailnet's records of every attachment (grouped by subnets,
// policy-groups.ts) and handed to the host's packet filter as data (FreeBSD: jailnet's own
// pf anchor; Linux: jailnet's nft table), under one lock, so a network created later is
// kept out as well.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import type { Result } from '../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../cni/skel.js';
import type { Host } from '../hosts/host.js';
import type { IsolationPolicy } from '../hosts/packet-filter.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { JsonRecords } from '../util/json-records.js';
import { AttachmentBase, attachmentKey as key, baseRecord, recordsDir } from './attachment-record.js';
import { attachmentsDir, pluginHost } from './host-for-plugin.js';
import { requirePrevResult, subnetsOf } from './passthrough.js';
import { PolicyGroups } from './policy-groups.js';

export const FirewallConfSchema = z.looseObject({
  ingressPolicy: z.enum(['open', 'same-bridge', '']).default('open'),
  backend: z.string().optional(),
});

const RecordSchema = AttachmentBase.extend({
  subnets: z.array(z.string()),
  isolated: z.boolean(),
});

type FirewallRecord = z.infer<typeof RecordSchema>;

interface FirewallStore {
  records: JsonRecords<FirewallRecord>;
  groups: PolicyGroups;
}

async function firewallStore(): Promise<FirewallStore> {
  const records = new JsonRecords(recordsDir(await attachmentsDir(), 'firewall'), RecordSchema);
  return { records, groups: new PolicyGroups(records.dir, records) };
}

/** The record and its group membership, in the order a crash leaves nothing the policy would miss. */
async function remember(store: FirewallStore, id: string, record: FirewallRecord): Promise<void> {
  await store.groups.join(record, id);
  await store.records.write(id, record);
}

async function forget(store: FirewallStore, id: string, record: FirewallRecord): Promise<void> {
  await store.records.remove(id);
  await store.groups.leave(record, id);
}

/** Every firewall record, for the desired state of repair (repair/desired.ts). */
export async function firewallRecords(dir: string): Promise<FirewallRecord[]> {
  return new JsonRecords(recordsDir(dir, 'firewall'), RecordSchema).all();
}

/** The isolation policy of all recorded attachments: pure, so it is tested as data. */
export function isolationPolicy(all: Array<Pick<FirewallRecord, 'subnets' | 'isolated'>>): IsolationPolicy {
  const isolated = [...new Set(all.filter((r) => r.isolated).flatMap((r) => r.subnets))].sort();
  const podSubnets = isolated.length === 0 ? [] : [...new Set(all.flatMap((r) => r.subnets))].sort();
  return { podSubnets, isolated };
}

/** The policy jailnet last handed to the host, so an unchanged policy costs no host command at all. */
// Not .json: the records of this directory are the .json files in it.
const APPLIED_FILE = 'applied.policy';

async function lastApplied(host: Host, store: JsonRecords<FirewallRecord>): Promise<{ policy: string; known: boolean }> {
  try {
    return { policy: await fs.readFile(path.join(store.dir, APPLIED_FILE), 'utf8'), known: true };
  } catch {
    // Not known yet: what the host holds decides whether there is anything to remove.
    return { policy: (await host.filter.isolatedSubnets()).length > 0 ? '(unknown)' : JSON.stringify(isolationPolicy([])), known: false };
  }
}

/**
 * Brings the host's isolation in line with the records, under the one lock of the
 * policy. The records themselves are written outside it: only the rebuild must be serial.
 */
async function rebuild(host: Host, store: FirewallStore): Promise<void> {
  const { records } = store;
  await records.locked(async () => {
    // One look per group of records with the same subnets, not a read of every record.
    const policy = isolationPolicy(await store.groups.shapes());
    const wanted = JSON.stringify(policy);
    const applied = await lastApplied(host, records);
    if (wanted !== applied.policy) await host.filter.setIsolation(policy);
    else if (applied.known) return;
    await writeFileAtomic(path.join(records.dir, APPLIED_FILE), wanted);
  });
}

function loadConf(request: PluginRequest) {
  const conf = parseConfig(FirewallConfSchema, request.config);
  if (conf.backend && conf.backend !== 'pf') {
    throw new CniError(ErrorCode.UnsupportedField, `unsupported field "backend": "${conf.backend}"`, 'jailnet isolates through its own packet filter driver');
  }
  return conf;
}

async function add(request: PluginRequest): Promise<Result> {
  const prev = requirePrevResult(request, 'firewall');
  const conf = loadConf(request);
  const store = await firewallStore();
  const id = key(request.config.name as string, request.containerId, request.ifname);
  const record: FirewallRecord = { ...baseRecord(request), subnets: subnetsOf(prev), isolated: conf.ingressPolicy === 'same-bridge' };
  await remember(store, id, record);
  try {
    await rebuild(pluginHost(), store);
  } catch (error) {
    await forget(store, id, record);
    throw error;
  }
  return prev;
}

async function del(request: PluginRequest): Promise<void> {
  loadConf(request);
  const store = await firewallStore();
  const id = key(request.config.name as string, request.containerId, request.ifname);
  const record = await store.records.read(id);
  if (!record) return;
  await forget(store, id, record);
  await rebuild(pluginHost(), store);
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
  loadConf(request);
  const network = request.config.name as string;
  const keep = new Set(valid.map((a) => key(network, a.containerID, a.ifname)));
  const store = await firewallStore();
  for (const record of await store.records.all()) {
    const id = key(record.network, record.containerId, record.ifname);
    if (record.network === network && !keep.has(id)) await forget(store, id, record);
  }
  await rebuild(pluginHost(), store);
}

async function check(request: PluginRequest): Promise<void> {
  const conf = loadConf(request);
  if (conf.ingressPolicy !== 'same-bridge') return;
  const prev = requirePrevResult(request, 'firewall');
  const isolated = await pluginHost().filter.isolatedSubnets();
  for (const subnet of subnetsOf(prev)) {
    if (!isolated.includes(subnet)) throw new CniError(ErrorCode.CheckFailed, `the host does not isolate ${subnet}`);
  }
}

const nothing = async (): Promise<void> => undefined;

export const firewall: Plugin = { add, del, check, gc, status: nothing };
