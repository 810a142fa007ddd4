// A directory of small JSON records validated by a schema, written atomically.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { withLock } from './file-lock.js';

export class JsonRecords<T> {
  constructor(
    readonly dir: string,
    private readonly schema: z.ZodType<T>,
  ) {}

  /** Runs work under a cross-process lock of this directory (or of one record, by id). */
  async locked<R>(work: () => Promise<R>, id = ''): Promise<R> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    return withLock(path.join(this.dir, `${id}.lock`), work);
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /** Temp file, fsync, rename: a crash leaves the old record or the new one, never half of one. */
  async write(id: string, record: T): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = this.file(id);
    const temp = `${target}.tmp-${process.pid}`;
    const handle = await fs.open(temp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(record, null, 2));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, target);
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
    await fs.rm(this.file(id), { force: true });
  }

  async all(): Promise<T[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const out: T[] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const record = await this.read(name.slice(0, -'.json'.length));
      if (record) out.push(record);
    }
    return out;
  }
}
