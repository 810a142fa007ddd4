// Files that are replaced whole: written to a temporary name, fsynced, renamed over the
// target, so a crash leaves the old file or the new one, never half of one.
import { promises as fs } from 'node:fs';
import path from 'node:path';

let counter = 0;

export async function writeFileAtomic(target: string, data: string, options: { mode?: number; dirMode?: number; sync?: boolean } = {}): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true, mode: options.dirMode ?? 0o700 });
  // pid and a counter: two writers of one process never share a temporary file.
  const temp = `${target}.tmp-${process.pid}-${counter++}`;
  const handle = await fs.open(temp, 'w', options.mode ?? 0o600);
  try {
    await handle.writeFile(data);
    if (options.sync ?? true) await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await fs.rename(temp, target);
}
