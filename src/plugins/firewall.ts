// The firewall plugin: ingressPolicy "open" (the default) or "same-bridge". With
// same-bridge, pods of other jailnet networks cannot reach this network's pods. The
// rules live in jailnet's own pf anchor `jailnet-fw`, rebuilt from jailnet's records of
// every attachment under a lock, so a network created later is kept out as well.
import path from 'node:path';
import { z } from 'zod';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import type { Result } from '../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../cni/skel.js';
import type { Host } from '../hosts/host.js';
import { attachmentsDir, pluginHost } from './host-for-plugin.js';
import { requirePrevResult, subnetsOf } from './passthrough.js';
import { attachmentKey as key } from './attachment-record.js';
import { JsonRecords } from '../util/json-records.js';

export const FIREWALL_ANCHOR = 'jailnet-fw';
const POD_TABLE = 'jailnet-pods';

const FirewallConfSchema = z.looseObject({
  ingressPolicy: z.enum(['open', 'same-bridge', '']).default('open'),
  backend: z.string().optional(),
});

const RecordSchema = z.object({
  network: z.string(),
  containerId: z.string(),
  ifname: z.string(),
  subnets: z.array(z.string()),
  isolated: z.boolean(),
});

type FirewallRecord = z.infer<typeof RecordSchema>;

async function records(): Promise<JsonRecords<FirewallRecord>> {
  return new JsonRecords(path.join(await attachmentsDir(), 'firewall'), RecordSchema);
}

/** The anchor's text for all recorded attachments: pure, so it is tested as data. */
export function firewallRules(all: FirewallRecord[]): string {
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

async function rebuild(host: Host, store: JsonRecords<FirewallRecord>): Promise<void> {
  const rules = firewallRules(await store.all());
  if (rules === '') {
    if ((await host.showAnchor(FIREWALL_ANCHOR, 'rules')).length > 0) await host.flushAnchor(FIREWALL_ANCHOR, 'all');
    return;
  }
  await host.loadAnchor(FIREWALL_ANCHOR, rules);
}

async function add(request: PluginRequest): Promise<Result> {
  const prev = requirePrevResult(request, 'firewall');
  const conf = parseConfig(FirewallConfSchema, request.config);
  if (conf.backend && conf.backend !== 'pf') {
    throw new CniError(ErrorCode.UnsupportedField, `unsupported field "backend": "${conf.backend}"`, 'jailnet filters with pf');
  }
  const network = request.config.name as string;
  const store = await records();
  const host = pluginHost();
  await store.locked(async () => {
    await store.write(key(network, request.containerId, request.ifname), {
      network,
      containerId: request.containerId,
      ifname: request.ifname,
      subnets: subnetsOf(prev),
      isolated: conf.ingressPolicy === 'same-bridge',
    });
    try {
      await rebuild(host, store);
    } catch (error) {
      await store.remove(key(network, request.containerId, request.ifname));
      throw error;
    }
  });
  return prev;
}

async function del(request: PluginRequest): Promise<void> {
  const network = request.config.name as string;
  const store = await records();
  const host = pluginHost();
  await store.locked(async () => {
    await store.remove(key(network, request.containerId, request.ifname));
    await rebuild(host, store);
  });
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
  const network = request.config.name as string;
  const keep = new Set(valid.map((a) => key(network, a.containerID, a.ifname)));
  const store = await records();
  await store.locked(async () => {
    for (const record of await store.all()) {
      const id = key(record.network, record.containerId, record.ifname);
      if (record.network === network && !keep.has(id)) await store.remove(id);
    }
    await rebuild(pluginHost(), store);
  });
}

async function check(request: PluginRequest): Promise<void> {
  const conf = parseConfig(FirewallConfSchema, request.config);
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
