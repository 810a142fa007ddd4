// host-local's `resolvConf`: DNS settings for the result read from a resolv.conf(5) file.
import { promises as fs } from 'node:fs';
import type { DNS } from '../cni/result.js';

export function parseResolvConf(text: string): DNS {
  const nameservers: string[] = [];
  const search: string[] = [];
  const options: string[] = [];
  let domain: string | undefined;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [keyword, first, ...rest] = line.split(/\s+/);
    if (first === undefined) continue;
    if (keyword === 'nameserver') nameservers.push(first);
    else if (keyword === 'domain') domain = first;
    else if (keyword === 'search') search.push(first, ...rest);
    else if (keyword === 'options') options.push(first, ...rest);
  }
  return {
    ...(nameservers.length ? { nameservers } : {}),
    ...(domain ? { domain } : {}),
    ...(search.length ? { search } : {}),
    ...(options.length ? { options } : {}),
  };
}

export async function readResolvConf(file: string): Promise<DNS> {
  return parseResolvConf(await fs.readFile(file, 'utf8'));
}
