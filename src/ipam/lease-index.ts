// host-local's leases by attachment (issue 12): without it, finding an attachment's
// leases (every ADD checks for a duplicate, every DEL releases them) reads every lease
// file of the network, as the reference plugin does, so a call costs more with each pod.
// One small file per attachment, named by a hash of its key and listing its addresses, in
// a directory beside the networks' lease directories (persistent-names.ts LEASE_INDEX_DIR),
// whose layout stays byte for byte the reference's. Built from the
// leases the first time it is needed (build-once.ts), then kept by every reservation and
// release, all under the network's lock. It is a hint that may list too much, never too
// little: an address goes in before its lease is made and out after it is removed, and a
// lease is trusted only when its own file names the attachment.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LEASE_INDEX_DIR } from '../persistent-names.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { buildOnce } from '../util/build-once.js';

export class LeaseIndex {
  readonly dir: string;

  constructor(dataDir: string, network: string) {
    this.dir = path.join(dataDir, LEASE_INDEX_DIR, network);
  }

  /** Builds the index from every lease, once: `all` reads them. */
  ready(all: () => Promise<Array<{ key: string; address: string }>>): Promise<void> {
    return buildOnce(this.dir, async () => {
      const byKey = new Map<string, string[]>();
      for (const { key, address } of await all()) byKey.set(key, [...(byKey.get(key) ?? []), address]);
      for (const [key, addresses] of byKey) await this.write(key, addresses);
    });
  }

  private file(key: string): string {
    return path.join(this.dir, createHash('sha256').update(key).digest('hex').slice(0, 32));
  }

  /** The addresses listed for an attachment's key (some may no longer be its leases). */
  async addresses(key: string): Promise<string[]> {
    const text = await fs.readFile(this.file(key), 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    return text.split('\n').filter(Boolean);
  }

  /** Lists the address for the key; false when it was listed already. */
  async add(key: string, address: string): Promise<boolean> {
    const listed = await this.addresses(key);
    if (listed.includes(address)) return false;
    await this.write(key, [...listed, address]);
    return true;
  }

  async remove(key: string, addresses: string[]): Promise<void> {
    const listed = await this.addresses(key);
    const left = listed.filter((a) => !addresses.includes(a));
    if (left.length !== listed.length) await this.write(key, left);
  }

  private async write(key: string, addresses: string[]): Promise<void> {
    if (addresses.length === 0) return void (await fs.rm(this.file(key), { force: true }));
    await writeFileAtomic(this.file(key), `${addresses.join('\n')}\n`, { mode: 0o644, dirMode: 0o755, sync: false });
  }
}
