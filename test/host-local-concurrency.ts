// Many plugin processes allocating on one network at once never share an address.
import path from 'node:path';
import t from 'tap';
import { snapshotDir } from './helpers/leases.js';
import { PLUGIN_DIR, callPlugin } from './helpers/run.js';

const HOST_LOCAL = path.join(PLUGIN_DIR, 'host-local');
const COUNT = 50;

t.test(`${COUNT} concurrent ADDs then ${COUNT} concurrent DELs on one /24`, async (t) => {
  const dataDir = t.testdir();
  const conf = { cniVersion: '1.0.0', name: 'busy', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.55.0.0/24' }]] } };
  const call = (command: string, i: number) =>
    callPlugin(HOST_LOCAL, { command, containerId: `ctr${i}`, netns: `/run/netns/n${i}`, ifname: 'eth0', path: PLUGIN_DIR }, conf);
  const ids = Array.from({ length: COUNT }, (_, i) => i);

  const adds = await Promise.all(ids.map((i) => call('ADD', i)));
  const failures = adds.filter((r) => r.code !== 0);
  t.same(failures.map((r) => r.stdout), [], 'every ADD succeeded');
  const addresses = adds.map((r) => r.json?.ips?.[0]?.address);
  t.equal(new Set(addresses).size, COUNT, `${COUNT} distinct addresses`);
  const leaseDir = path.join(dataDir, 'busy');
  const leaseFiles = Object.keys(await snapshotDir(leaseDir)).filter((n) => n.startsWith('10.'));
  t.equal(leaseFiles.length, COUNT, `${COUNT} lease files`);
  t.same(leaseFiles.sort(), addresses.map((a) => a.split('/')[0]).sort(), 'each result has its own lease file');

  const dels = await Promise.all(ids.map((i) => call('DEL', i)));
  t.same(dels.filter((r) => r.code !== 0).map((r) => r.stdout), [], 'every DEL succeeded');
  t.same(Object.keys(await snapshotDir(leaseDir)), ['last_reserved_ip.0', 'lock'], 'only the bookkeeping files remain');
});
