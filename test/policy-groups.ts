// The firewall's groups of records (src/plugins/policy-groups.ts), in-process on a scratch
// directory: the shapes in use, a member left by a crash, groups built from an earlier
// version's records, and a policy look that does not read every record.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { PolicyGroups, type GroupRecords, type Shape } from '../src/plugins/policy-groups.js';

function recordsOf(entries: Array<{ id: string; shape: Shape }>) {
  const calls = { all: 0, exists: 0 };
  const records: GroupRecords = {
    exists: async (id) => {
      calls.exists += 1;
      return entries.some((e) => e.id === id);
    },
    entries: async () => {
      calls.all += 1;
      return entries.map((e) => [e.id, e.shape] as [string, Shape]);
    },
  };
  return { records, entries, calls };
}


const sorted = (shapes: Shape[]) => shapes.map((s) => JSON.stringify(s)).sort();
const web: Shape = { subnets: ['10.1.0.0/24'], isolated: true };
const db: Shape = { subnets: ['10.2.0.0/24', 'fd02::/64'], isolated: false };

t.test('the shapes of the records that exist, one per group', async (t) => {
  const dir = t.testdir();
  const { records, entries } = recordsOf([]);
  const groups = new PolicyGroups(dir, records);
  t.same(await groups.shapes(), [], 'no record, no shape');
  const entries3: Array<[string, Shape]> = [['w1', web], ['w2', web], ['d1', { ...db, subnets: ['fd02::/64', '10.2.0.0/24'] }]];
  for (const [id, shape] of entries3) {
    entries.push({ id, shape });
    await groups.join(shape, id);
  }
  t.same(sorted(await groups.shapes()), sorted([web, db]), 'two groups: the order of subnets does not make another');
  await groups.leave(web, 'w1');
  entries.splice(0, 1);
  t.same(sorted(await groups.shapes()), sorted([web, db]), 'a group stays while one member is left');
  await groups.leave(web, 'w2');
  entries.splice(0, 1);
  t.same(sorted(await groups.shapes()), sorted([db]), 'and goes with its last');
});

t.test('a member whose record is gone is dropped; groups are built once from existing records', async (t) => {
  const dir = t.testdir();
  const earlier = Array.from({ length: 300 }, (_, i) => ({ id: `pod${i}`, shape: i % 2 ? web : db }));
  const { records, entries, calls } = recordsOf(earlier);
  const groups = new PolicyGroups(dir, records);
  t.same(sorted(await groups.shapes()), sorted([web, db]), "an earlier version's records, grouped");
  t.equal(calls.all, 1, 'read once, to build the groups');
  calls.exists = 0;
  await groups.shapes();
  t.equal(calls.all, 1, 'not again');
  t.equal(calls.exists, 2, 'a look is one record per group in use, not one per record');

  await groups.join(db, 'crashed');
  entries.length = 0;
  t.same(await groups.shapes(), [], 'members without records count for nothing');
  t.same((await fs.readdir(path.join(dir, 'groups'), { recursive: true })).filter((n) => /pod|crashed/.test(n)), [], 'and are removed');
});

t.test('joins beside looks (as ADDs of new networks beside a rebuild): a look never reads half a shape', async (t) => {
  const dir = t.testdir();
  const { records, entries } = recordsOf([]);
  const groups = new PolicyGroups(dir, records);
  await groups.shapes();
  const shapes = Array.from({ length: 40 }, (_, i) => ({ subnets: [`10.${i}.0.0/24`], isolated: i % 2 === 0 }));
  for (const [i, shape] of shapes.entries()) entries.push({ id: `pod${i}`, shape });
  const looks: Array<Promise<Shape[]>> = [];
  const joins = shapes.map(async (shape, i) => {
    looks.push(groups.shapes());
    await groups.join(shape, `pod${i}`);
  });
  await Promise.all(joins);
  const settled = await Promise.allSettled(looks);
  t.same(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason)), [], 'every look succeeded');
  t.same(sorted(await groups.shapes()), sorted(shapes), 'and afterwards every group is seen');
});
