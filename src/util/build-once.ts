// An index kept beside records it can be built from: built the first time it is needed
// (under the caller's lock), then marked complete, so later calls only look at the mark.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';

const BUILT = '.built';

export async function buildOnce(dir: string, build: () => Promise<void>): Promise<void> {
  const mark = path.join(dir, BUILT);
  if (existsSync(mark)) return;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await build();
  await fs.writeFile(mark, '');
}
