// jailnet's own record of each attachment, keyed by (network, containerID, ifname), so
// DEL works without prevResult and after the jail is gone.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

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

export class AttachmentRecords {
  constructor(readonly dir: string) {}

  private file(network: string, containerId: string, ifname: string): string {
    return path.join(this.dir, `${network}-${containerId}-${ifname}.json`);
  }

  async write(record: AttachmentRecord): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.file(record.network, record.containerId, record.ifname);
    const temp = `${target}.tmp-${process.pid}`;
    await fs.writeFile(temp, JSON.stringify(record), { mode: 0o600 });
    await fs.rename(temp, target);
  }

  async read(network: string, containerId: string, ifname: string): Promise<AttachmentRecord | undefined> {
    try {
      const parsed = RecordSchema.safeParse(JSON.parse(await fs.readFile(this.file(network, containerId, ifname), 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async remove(network: string, containerId: string, ifname: string): Promise<void> {
    await fs.rm(this.file(network, containerId, ifname), { force: true });
  }

  async all(network: string): Promise<AttachmentRecord[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const out: AttachmentRecord[] = [];
    for (const name of names.filter((n) => n.startsWith(`${network}-`) && n.endsWith('.json'))) {
      try {
        const parsed = RecordSchema.safeParse(JSON.parse(await fs.readFile(path.join(this.dir, name), 'utf8')));
        if (parsed.success && parsed.data.network === network) out.push(parsed.data);
      } catch {
        // a record being replaced
      }
    }
    return out;
  }
}
