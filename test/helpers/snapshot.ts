// A directory tree as data (every directory and file, with mode and bytes), to show
// that a command changed nothing in it.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export type TreeSnapshot = Record<string, string>;

export async function snapshotTree(root: string): Promise<TreeSnapshot> {
  const out: TreeSnapshot = {};
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(dir, entry.name);
      const stat = await fs.lstat(file);
      const mode = (stat.mode & 0o7777).toString(8);
      if (entry.isDirectory()) {
        out[`${path.relative(root, file)}/`] = mode;
        await walk(file);
      } else {
        out[path.relative(root, file)] = `${mode} ${(await fs.readFile(file)).toString('base64')}`;
      }
    }
  };
  await walk(root);
  return out;
}

/** Files of the tree whose names match (lease files, records), for leak checks. */
export function filesMatching(tree: TreeSnapshot, pattern: RegExp): string[] {
  return Object.keys(tree).filter((name) => !name.endsWith('/') && pattern.test(name));
}

/** Lease files are named by the address they hold. */
export const LEASE_FILE = /(^|\/)\d+\.\d+\.\d+\.\d+$/;

/** What a podHost's DELs must not leave under its directory: leases, attachment records, cached results, locks. */
export async function cniLeftovers(dir: string): Promise<string[]> {
  const tree = await snapshotTree(dir);
  return [
    ...filesMatching(tree, LEASE_FILE),
    ...filesMatching(tree, /^state\/attachments\/\w+\/.*\.json$/),
    ...filesMatching(tree, /^state\/cni\/results\//),
    ...filesMatching(tree, /\.(lock|q)(\/|$)|lock\.owner/),
  ];
}
