// Under load: 100 runtimes adding podman's default chain on one network at once, then
// deleting it at once; 50 pods created and removed at once (on the simulated FreeBSD
// host). No call may fail, no address may be handed out twice, nothing may be left.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { comparable, podHost, podmanDefaultNetwork } from './helpers/podnet.js';
import { podLab } from './helpers/pods.js';
import { cniLeftovers, filesMatching, LEASE_FILE, snapshotTree } from './helpers/snapshot.js';
import { setup } from './helpers/sim.js';
import type { Run } from './helpers/run.js';

t.setTimeout(1_800_000);

const ADDS = 100;
const PODS = 50;

/**
 * A simulated command costs ~50 ms of CPU (a Node process), a FreeBSD tool ~1 ms: with a
 * hundred ADDs of ~16 commands each on two cores, one call can take longer than the 300 s a
 * real host gives it. The simulated host gives its plugins the time the simulator needs.
 */
const SIMULATOR_TIME = ['plugin_timeout = 1800'];

const figures: string[] = [];
t.teardown(() => {
  for (const line of figures) t.comment(line);
});

function failuresOf(runs: Run[]): string[] {
  return runs.map((r, i) => (r.code === 0 ? '' : `#${i}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`)).filter(Boolean);
}

t.test(`${ADDS} concurrent ADDs of podman's chain on one network, then ${ADDS} concurrent DELs`, async (t) => {
  const h = await podHost(t, { runtime: SIMULATOR_TIME });
  const names = Array.from({ length: ADDS }, (_, i) => `ctr${i}`);
  for (let i = 0; i < ADDS; i += 10) await Promise.all(names.slice(i, i + 10).map((name) => h.jail(name)));
  const list = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const before = comparable(h.sim.state());
  const id = (i: number) => `${String(i).padStart(4, '0')}${'c'.repeat(60)}`;

  const adds = await Promise.all(names.map((jail, i) => h.add(list, id(i), jail)));
  const addFailures = failuresOf(adds);
  t.same(addFailures, [], 'every ADD succeeded');
  const addresses = adds.map((r) => r.json?.ips?.[0]?.address as string | undefined).filter((a): a is string => a !== undefined);
  const duplicates = addresses.length - new Set(addresses).size;
  t.equal(duplicates, 0, 'no address was handed out twice');
  const state = h.sim.state();
  const bridge = state.ifaces.find((i) => i.name === 'cni-podman0');
  t.equal(state.ifaces.filter((i) => i.memberOf === bridge?.id).length, ADDS, 'every host end is on the bridge');
  t.equal(state.vnets[0]?.pf.tables[':cni-nat']?.addresses.length, ADDS, 'every pod is masqueraded');
  const reached = names.filter((jail, i) => h.sim.reach({ from: jail, to: '10.88.0.1', port: 53 }).delivered && addresses[i]).length;
  t.equal(reached, ADDS, 'every pod reaches its gateway');

  const dels = await Promise.all(names.map((jail, i) => h.del(list, id(i), jail)));
  const delFailures = failuresOf(dels);
  t.same(delFailures, [], 'every DEL succeeded');
  const leaks = await cniLeftovers(h.dir);
  t.same(leaks, [], 'no lease, record, cache entry or lock is left');
  t.same(comparable(h.sim.state(), ['cni-podman0']), before, 'the host is as before, apart from the bridge');
  figures.push(`concurrent CNI: ${ADDS} ADDs, ${addFailures.length} failed, ${duplicates} duplicate addresses; ${ADDS} DELs, ${delFailures.length} failed; ${leaks.length} leaks`);
});

t.test(`${PODS} concurrent pod create, then ${PODS} concurrent pod rm`, async (t) => {
  const lab = await podLab(t, { runtime: SIMULATOR_TIME });
  const created = await lab.jailnet(['network', 'create', 'busy', '--subnet', '10.89.100.0/24']);
  t.equal(created.code, 0, created.stderr);
  await setup(lab.sim, [['sysctl', 'net.inet.ip.forwarding=1']]);
  const before = comparable(lab.sim.state());
  const pods = Array.from({ length: PODS }, (_, i) => `p${i}`);
  const creates = await Promise.all(pods.map((pod) => lab.jailnet(['pod', 'create', pod, '--network', 'busy'])));
  const createFailures = failuresOf(creates);
  t.same(createFailures, [], 'every pod create succeeded');
  const addresses = creates.map((r) => (r.code === 0 ? (JSON.parse(r.stdout).interfaces[0].addresses[0] as string) : '')).filter(Boolean);
  const duplicates = addresses.length - new Set(addresses).size;
  t.equal(duplicates, 0, 'no address twice');
  const removes = await Promise.all(pods.map((pod) => lab.jailnet(['pod', 'rm', pod])));
  const removeFailures = failuresOf(removes);
  t.same(removeFailures, [], 'every pod rm succeeded');
  const tree = await snapshotTree(lab.stateDir);
  const leaks = [...filesMatching(tree, LEASE_FILE), ...filesMatching(tree, /\.json$/), ...filesMatching(tree, /^cni\/results\//)];
  t.same(leaks, [], 'no lease, record or cache entry is left');
  t.same(comparable(lab.sim.state(), ['jailnet0']), before, 'the host is as before, apart from the bridge');
  t.same(await fs.readdir(path.join(lab.stateDir, 'pods')).then((f) => f.filter((n) => !n.startsWith('.')), () => []), [], 'no pod file at all');
  figures.push(`concurrent pods: ${PODS} creates, ${createFailures.length} failed, ${duplicates} duplicate addresses; ${PODS} removals, ${removeFailures.length} failed; ${leaks.length} leaks`);
});
