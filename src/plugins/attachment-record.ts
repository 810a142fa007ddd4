// jailnet's own records of the attachments its plugins changed the host for, one
// directory per plugin under <state_dir>/attachments, keyed by (network, containerID,
// ifname). A plugin writes its record before its first host change, so that DEL works
// without prevResult, after the sandbox is gone, and after a crash; and gc can tell whose
// sandbox (CNI_NETNS) an attachment belongs to, and whether that sandbox still exists.
import path from 'node:path';
import { z } from 'zod';
import type { PluginRequest } from '../cni/skel.js';
import { JsonRecords } from '../util/json-records.js';

/** What every plugin records: the attachment, its sandbox, and the plugin config to DEL it with. */
export const AttachmentBase = z.object({
  network: z.string(),
  containerId: z.string(),
  ifname: z.string(),
  /** CNI_NETNS as the runtime gave it. */
  netns: z.string(),
  cniVersion: z.string(),
  /** The plugin's own entry of the list (type and fields), for a DEL when the list is gone. */
  plugin: z.record(z.string(), z.unknown()),
});

export type AttachmentBaseRecord = z.infer<typeof AttachmentBase>;

const BridgeRecordSchema = AttachmentBase.extend({
  jail: z.string(),
  bridge: z.string(),
  hostInterface: z.string(),
  addresses: z.array(z.string()),
  ipMasq: z.boolean(),
});

export type AttachmentRecord = z.infer<typeof BridgeRecordSchema>;

/** The plugins that keep records, in the order DEL should take them (reverse chain order). */
export const RECORDING_PLUGINS = ['tuning', 'portmap', 'firewall', 'bridge'] as const;

export function attachmentKey(network: string, containerId: string, ifname: string): string {
  return `${network}-${containerId}-${ifname}`;
}

export function recordsDir(attachmentsDir: string, plugin: (typeof RECORDING_PLUGINS)[number]): string {
  return path.join(attachmentsDir, plugin);
}

export function bridgeRecords(attachmentsDir: string): JsonRecords<AttachmentRecord> {
  return new JsonRecords(recordsDir(attachmentsDir, 'bridge'), BridgeRecordSchema);
}

/** The base of a plugin's record for this request. */
export function baseRecord(request: PluginRequest): AttachmentBaseRecord {
  const { prevResult: _prev, runtimeConfig: _rt, name: _name, cniVersion: _v, ...plugin } = request.config as Record<string, unknown>;
  return {
    network: request.config.name as string,
    containerId: request.containerId,
    ifname: request.ifname,
    netns: request.netns,
    cniVersion: request.cniVersion,
    plugin,
  };
}

export interface RecordedAttachment {
  network: string;
  containerId: string;
  ifname: string;
  netns: string;
  /** Each recording plugin's record, by plugin type. */
  records: Array<{ type: (typeof RECORDING_PLUGINS)[number]; record: AttachmentBaseRecord }>;
}

/** Every attachment some jailnet plugin has a record of, with its sandbox. */
export async function recordedAttachments(attachmentsDir: string): Promise<RecordedAttachment[]> {
  const byKey = new Map<string, RecordedAttachment>();
  for (const type of RECORDING_PLUGINS) {
    const records = new JsonRecords(recordsDir(attachmentsDir, type), AttachmentBase.loose());
    for (const record of await records.all()) {
      const key = `${record.network}\n${record.containerId}\n${record.ifname}`;
      const entry = byKey.get(key) ?? { network: record.network, containerId: record.containerId, ifname: record.ifname, netns: record.netns, records: [] };
      entry.records.push({ type, record });
      byKey.set(key, entry);
    }
  }
  return [...byKey.values()];
}
