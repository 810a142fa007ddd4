// A bridge ADD that fails at any one of its host commands leaves the host, the leases
// and jailnet's records exactly as they were.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { snapshotDir } from './helpers/leases.js';
import { comparable, podHost, podmanDefaultNetwork } from './helpers/podnet.js';

t.test('an injected failure at every host command of a bridge ADD leaves nothing behind', async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  const bridgeOnly = { ...podmanDefaultNetwork(h.leaseDir), plugins: [podmanDefaultNetwork(h.leaseDir).plugins[0]] };
  const list = await h.writeList('bridge-only', bridgeOnly);
  const leases = () => snapshotDir(path.join(h.leaseDir, 'podman')).then((d) => Object.keys(d).filter((n) => n.startsWith('10.')));
  const records = () => fs.readdir(path.join(h.recordsDir, 'bridge')).then((n) => n.filter((f) => f.endsWith('.json')), () => []);
  const baseline = comparable(h.sim.state());

  // One clean run tells how many host commands an ADD takes; DEL brings the host back.
  const start = h.sim.state().commandCount;
  const ok = await h.add(list, 'ctr', 'pod-a');
  t.equal(ok.code, 0, ok.stderr);
  const commands = h.sim.state().commandCount - start;
  t.ok(commands > 15, `a bridge ADD runs ${commands} host commands`);
  t.equal((await h.del(list, 'ctr', 'pod-a')).code, 0);
  // The bridge stays after DEL, as with the reference plugins; take it away for the rounds below.
  await h.sim.mutate((s) => {
    s.ifaces = s.ifaces.filter((i) => i.name !== 'cni-podman0');
  });
  t.same(comparable(h.sim.state()), baseline);

  for (let n = 1; n <= commands; n++) {
    const at = h.sim.state().commandCount + n;
    await h.sim.mutate((s) => {
      s.failAt = at;
    });
    const failed = await h.add(list, 'ctr', 'pod-a');
    const failedCommand = h.sim.log().find((_, i, all) => i === all.length - 1 - (h.sim.state().commandCount - at));
    t.equal(failed.code, 1, `command ${n} (${failedCommand?.argv.join(' ')}) failing fails the ADD`);
    t.same(comparable(h.sim.state()), baseline, `after a failure at command ${n} the host is as before`);
    t.same(await leases(), [], `after a failure at command ${n} no lease is left`);
    t.same(await records(), [], `after a failure at command ${n} no record is left`);
  }
  await h.sim.mutate((s) => {
    s.failAt = undefined;
  });
  const cache = await fs.readdir(h.cacheDir).catch(() => []);
  t.same(cache, [], 'and no cache entry');
});
