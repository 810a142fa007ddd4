// jailnet's own record of each bridge attachment, keyed by (network, containerID,
// ifname), so DEL works without prevResult and after the jail is gone.
import path from 'node:path';
import { z } from 'zod';
import { JsonRecords } from '../util/json-records.js';

const RecordSchema = z.object({
  network: z.string(),
  containerId: z.string(),
  ifname: z.string(),
  jail: z.string(),
  bridge: z.string(),
  hostInterface: z.string(),
  addresses: z.array(z.string()),
  ipMasq: z.boolean(),
});

export type AttachmentRecord = z.infer<typeof RecordSchema>;

export function attachmentKey(network: string, containerId: string, ifname: string): string {
  return `${network}-${containerId}-${ifname}`;
}

export function bridgeRecords(attachmentsDir: string): JsonRecords<AttachmentRecord> {
  return new JsonRecords(path.join(attachmentsDir, 'bridge'), RecordSchema);
}
