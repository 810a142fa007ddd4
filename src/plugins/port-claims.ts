// Which host ports jailnet's publications hold, indexed by port, so that an ADD's clash
// check reads only the ports it asks for and does not grow with the number of pods
// (issue 12). Under the portmap records: `ports/<protocol>-<port>/` per host port, and in
// it one file per claim, named by its host address (`any` when it has none), holding the
// claiming attachment's record id. The records stay the truth: the index is built from
// them once (`ports/.built` says it is complete), a claim whose record is gone (a crash
// between the two writes) is dropped when it is found, and only its owner removes a claim.
// Claims are made under the records' lock; a removal is one unlink and needs none.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { PortMapping } from '../cni/port-mapping.js';
import { formatIP, parseIP } from '../ipam/ip.js';
import { buildOnce } from '../util/build-once.js';

const ANY = 'any';

/** What the index needs of the records (a JsonRecords of portmap records): whether one exists, and all of them by id. */
export interface ClaimRecords {
  exists(id: string): Promise<boolean>;
  entries(): Promise<Array<[id: string, record: { mappings: PortMapping[] }]>>;
}

export interface Clash {
  mapping: PortMapping;
  owner: string;
}

/** The claim file of one mapping: its port's directory, and its host address in canonical form. */
function claimOf(dir: string, mapping: PortMapping): { portDir: string; name: string } {
  const parsed = mapping.hostIP ? parseIP(mapping.hostIP) : null;
  if (mapping.hostIP && !parsed) throw new Error(`hostIP ${JSON.stringify(mapping.hostIP)} is not an IP address`);
  return { portDir: path.join(dir, `${mapping.protocol}-${mapping.hostPort}`), name: parsed ? formatIP(parsed) : ANY };
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
}

export class PortClaims {
  private readonly dir: string;

  constructor(recordsDir: string, private readonly records: ClaimRecords) {
    this.dir = path.join(recordsDir, 'ports');
  }

  /** Under the records' lock: the index as the records say, built from them the first time. */
  private ensureBuilt(): Promise<void> {
    return buildOnce(this.dir, async () => {
      for (const [id, record] of await this.records.entries()) await this.write(record.mappings, id);
    });
  }

  /** Under the records' lock: the first mapping another attachment's claim takes (a claim of a record that is gone is dropped). */
  async clashOf(mappings: PortMapping[], ownId: string): Promise<Clash | undefined> {
    await this.ensureBuilt();
    for (const mapping of mappings) {
      const { portDir, name } = claimOf(this.dir, mapping);
      // Two claims of one protocol and port clash unless both name host addresses, different ones.
      const rivals = (await readdirOrEmpty(portDir)).filter((other) => name === ANY || other === ANY || other === name);
      for (const rival of rivals) {
        const file = path.join(portDir, rival);
        const owner = await fs.readFile(file, 'utf8').catch(() => undefined);
        if (owner === undefined || owner === ownId) continue;
        if (await this.records.exists(owner)) return { mapping, owner };
        await fs.rm(file, { force: true });
      }
    }
    return undefined;
  }

  /** Under the records' lock, before the record is written: a crash between the two leaves a claim that clashOf drops. */
  async claim(mappings: PortMapping[], ownId: string): Promise<void> {
    await this.ensureBuilt();
    await this.write(mappings, ownId);
  }

  private async write(mappings: PortMapping[], ownId: string): Promise<void> {
    for (const mapping of mappings) {
      const { portDir, name } = claimOf(this.dir, mapping);
      await fs.mkdir(portDir, { recursive: true, mode: 0o700 });
      await fs.writeFile(path.join(portDir, name), ownId, { mode: 0o600 });
    }
  }

  /** The attachment's claims given up; another attachment's claim of the same port is left alone. */
  async release(mappings: PortMapping[], ownId: string): Promise<void> {
    for (const mapping of mappings) {
      const { portDir, name } = claimOf(this.dir, mapping);
      const file = path.join(portDir, name);
      if ((await fs.readFile(file, 'utf8').catch(() => undefined)) !== ownId) continue;
      // The port's directory stays (one per port ever published): removing it could race a claim being made.
      await fs.rm(file, { force: true });
    }
  }
}
