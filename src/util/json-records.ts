// A directory of small JSON records validated by a schema, written atomically. With a
// planning ChangePlan (--dry-run) writes and removals are recorded, not made, and no
// lock is taken: nothing is written that a lock would protect.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { writeFileAtomic } from './atomic-file.js';
import { unlessPlanning, type ChangePlan } from './change-plan.js';
import { lockHeld, withLock } from './file-lock.js';

export class JsonRecords<T> {
  constructor(
    readonly dir: string,
    private readonly schema: z.ZodType<T>,
    private readonly plan?: ChangePlan,
  ) {}

  private lockFile(id: string): string {
    return path.join(this.dir, `${id}.lock`);
  }

  /** Runs work under a cross-process lock of this directory (or of one record, by id). */
  async locked<R>(work: () => Promise<R>, id = ''): Promise<R> {
    if (this.plan?.planning) return work();
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    return withLock(this.lockFile(id), work);
  }

  /** Whether a live process holds the lock of one record now (reads only). */
  busy(id: string): Promise<boolean> {
    return lockHeld(this.lockFile(id));
  }

  file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /** Temp file, fsync, rename: a crash leaves the old record or the new one, never half of one. */
  async write(id: string, record: T): Promise<void> {
    await unlessPlanning(this.plan, 'write', this.file(id), () => this.writeNow(id, record));
  }

  private writeNow(id: string, record: T): Promise<void> {
    return writeFileAtomic(this.file(id), JSON.stringify(record, null, 2));
  }

  async read(id: string): Promise<T | undefined> {
    try {
      const parsed = this.schema.safeParse(JSON.parse(await fs.readFile(this.file(id), 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  async remove(id: string): Promise<void> {
    const file = this.file(id);
    // Removing what is not there changes nothing, so neither a plan nor a journal shows it.
    if (!existsSync(file)) return;
    await unlessPlanning(this.plan, 'remove', file, () => fs.rm(file, { force: true }));
  }

  async exists(id: string): Promise<boolean> {
    return existsSync(this.file(id));
  }

  /** Every valid record with its id, in id order. */
  async entries(): Promise<Array<[id: string, record: T]>> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const out: Array<[string, T]> = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const id = name.slice(0, -'.json'.length);
      const record = await this.read(id);
      if (record) out.push([id, record]);
    }
    return out;
  }

  async all(): Promise<T[]> {
    return (await this.entries()).map(([, record]) => record);
  }
}
