// portmap's index of claimed host ports (src/plugins/port-claims.ts), in-process on a
// scratch directory: the clash rules, a claim left by a crash, an index built from the
// records of an earlier version, and a check that reads only the ports it asks for.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { PortMapping } from '../src/cni/port-mapping.js';
import { PortClaims, type ClaimRecords } from '../src/plugins/port-claims.js';

const tcp = (hostPort: number, hostIP?: string): PortMapping => ({ protocol: 'tcp', hostPort, containerPort: 80, ...(hostIP ? { hostIP } : {}) });

/** Records as data, counting how often the whole set is read. */
function recordsOf(entries: Array<{ id: string; mappings: PortMapping[] }>) {
  const calls = { all: 0 };
  const records: ClaimRecords = {
    exists: async (id) => entries.some((e) => e.id === id),
    entries: async () => {
      calls.all += 1;
      return entries.map((e) => [e.id, e] as [string, { mappings: PortMapping[] }]);
    },
  };
  return { records, entries, calls };
}


t.test('two claims of a protocol and port clash unless both name host addresses, different ones', async (t) => {
  const dir = t.testdir();
  const { records, entries } = recordsOf([]);
  const claims = new PortClaims(dir, records);
  const take = async (id: string, mappings: PortMapping[]) => {
    entries.push({ id, mappings });
    await claims.claim(mappings, id);
  };
  await take('a', [tcp(8080)]);
  await take('b', [tcp(9090, '192.0.2.1')]);
  await take('c', [tcp(7070, '2001:db8::1')]);
  t.match(await claims.clashOf([tcp(8080)], 'x'), { owner: 'a', mapping: { hostPort: 8080 } }, 'any address vs any address');
  t.match(await claims.clashOf([tcp(8080, '192.0.2.9')], 'x'), { owner: 'a' }, 'a host address vs any address');
  t.match(await claims.clashOf([tcp(9090)], 'x'), { owner: 'b' }, 'any address vs a host address');
  t.match(await claims.clashOf([tcp(9090, '192.0.2.1')], 'x'), { owner: 'b' }, 'the same host address');
  t.equal(await claims.clashOf([tcp(9090, '192.0.2.2')], 'x'), undefined, 'different host addresses share the port');
  t.match(await claims.clashOf([tcp(7070, '2001:DB8:0::1')], 'x'), { owner: 'c' }, 'an address is compared in its canonical form');
  t.equal(await claims.clashOf([{ ...tcp(8080), protocol: 'udp' }], 'x'), undefined, 'another protocol is another port');
  t.equal(await claims.clashOf([tcp(8080)], 'a'), undefined, "an attachment's own claim is no clash (a repeated ADD)");

  await claims.release([tcp(8080)], 'x');
  t.match(await claims.clashOf([tcp(8080)], 'x'), { owner: 'a' }, "releasing does not take another attachment's claim");
  await claims.release([tcp(8080)], 'a');
  t.equal(await claims.clashOf([tcp(8080)], 'x'), undefined, 'released by its owner, the port is free');
});

t.test('a claim whose record is gone (a crash between the two writes) is dropped when found', async (t) => {
  const dir = t.testdir();
  const { records } = recordsOf([]);
  const claims = new PortClaims(dir, records);
  await claims.claim([tcp(8080)], 'crashed');
  t.equal(await claims.clashOf([tcp(8080)], 'x'), undefined, 'no record: no clash');
  t.same(await fs.readdir(path.join(dir, 'ports', 'tcp-8080')), [], 'and the stale claim is removed');
});

t.test('the index is built once from the records, then a check reads only its own ports', async (t) => {
  const dir = t.testdir();
  const earlier = Array.from({ length: 500 }, (_, i) => ({ id: `pod${i}`, mappings: [tcp(20000 + i)] }));
  const { records, calls } = recordsOf(earlier);
  const claims = new PortClaims(dir, records);
  t.match(await claims.clashOf([tcp(20042)], 'new'), { owner: 'pod42' }, "an earlier version's record is found through the built index");
  t.equal(calls.all, 1, 'the records were read once, to build it');
  const read = await countReads(dir, () => claims.clashOf([tcp(30000)], 'new'));
  t.equal(calls.all, 1, 'not again');
  t.same(read, ['ports/tcp-30000'], 'the check looked at its own port and nothing else');
});

/** The directories a call lists under dir (fs.readdir observed for the call's duration). */
async function countReads(dir: string, work: () => Promise<unknown>): Promise<string[]> {
  const listed: string[] = [];
  const original = fs.readdir;
  const spy = ((target: string, ...rest: unknown[]) => {
    listed.push(path.relative(dir, String(target)));
    return (original as (...a: unknown[]) => unknown)(target, ...rest);
  }) as typeof fs.readdir;
  fs.readdir = spy;
  try {
    await work();
  } finally {
    fs.readdir = original;
  }
  return listed;
}
