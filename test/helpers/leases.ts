// A lease directory as data: every file's name, mode and bytes.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface FileSnapshot {
  mode: string;
  content: string;
}

export async function snapshotDir(dir: string): Promise<Record<string, FileSnapshot>> {
  const out: Record<string, FileSnapshot> = {};
  let names: string[] = [];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const name of names.sort()) {
    const file = path.join(dir, name);
    const stat = await fs.stat(file);
    out[name] = { mode: (stat.mode & 0o777).toString(8), content: (await fs.readFile(file)).toString('binary') };
  }
  return out;
}
