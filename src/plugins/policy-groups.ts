// The firewall's records grouped by what the isolation policy reads of them (their subnets
// and whether they are isolated), so the policy comes from one look per group instead of
// a read of every record (issue 12). Under the firewall records: `groups/<hash>.shape`
// (the group's JSON, replaced whole by rename, so a reader never sees half of it) and
// `groups/<hash>/` with an empty file per member, named by its record id. The
// records stay the truth: the groups are built from them once (`groups/.built`), a member
// joins before its record is written and leaves after it is removed, and a member whose
// record is gone (a crash between the two) is dropped when a look finds it.
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { buildOnce } from '../util/build-once.js';

export interface Shape {
  subnets: string[];
  isolated: boolean;
}

/** What the groups need of the records (a JsonRecords of firewall records): whether one exists, and all of them by id. */
export interface GroupRecords {
  exists(id: string): Promise<boolean>;
  entries(): Promise<Array<[id: string, record: Shape]>>;
}

const SHAPE_SUFFIX = '.shape';

function canonical(shape: Shape): string {
  return JSON.stringify({ subnets: [...new Set(shape.subnets)].sort(), isolated: shape.isolated });
}

export class PolicyGroups {
  private readonly dir: string;

  constructor(recordsDir: string, private readonly records: GroupRecords) {
    this.dir = path.join(recordsDir, 'groups');
  }

  private groupDir(shape: Shape): string {
    return path.join(this.dir, createHash('sha256').update(canonical(shape)).digest('hex').slice(0, 32));
  }

  /** Without the records' lock: the shape first (if new), then the member, so a look never finds a member of no shape. */
  async join(shape: Shape, id: string): Promise<void> {
    const dir = this.groupDir(shape);
    if (!existsSync(`${dir}${SHAPE_SUFFIX}`)) await writeFileAtomic(`${dir}${SHAPE_SUFFIX}`, canonical(shape), { sync: false });
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await fs.writeFile(path.join(dir, id), '', { mode: 0o600 });
  }

  async leave(shape: Shape, id: string): Promise<void> {
    await fs.rm(path.join(this.groupDir(shape), id), { force: true });
  }

  /** Under the records' lock: the shapes that have a member with a record, built from the records the first time. */
  async shapes(): Promise<Shape[]> {
    await this.ensureBuilt();
    const shapes: Shape[] = [];
    for (const name of await fs.readdir(this.dir)) {
      if (!name.endsWith(SHAPE_SUFFIX)) continue;
      const shapeFile = path.join(this.dir, name);
      if (await this.hasLiveMember(shapeFile.slice(0, -SHAPE_SUFFIX.length))) shapes.push(JSON.parse(await fs.readFile(shapeFile, 'utf8')) as Shape);
    }
    return shapes;
  }

  private ensureBuilt(): Promise<void> {
    return buildOnce(this.dir, async () => {
      for (const [id, record] of await this.records.entries()) await this.join(record, id);
    });
  }

  /** Reads the group's entries only until one member's record is found: one look for a group in use. */
  private async hasLiveMember(dir: string): Promise<boolean> {
    const entries = await fs.opendir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? undefined : Promise.reject(error)));
    if (!entries) return false;
    try {
      for await (const entry of entries) {
        if (await this.records.exists(entry.name)) return true;
        await fs.rm(path.join(dir, entry.name), { force: true });
      }
      return false;
    } finally {
      await entries.close().catch(() => undefined);
    }
  }
}
