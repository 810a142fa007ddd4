// Teardown that collects every error, gc that never races a pod's creator or remover,
// gc that leaves a runtime's attachments alone while their jail lives, and failure
// paths that change nothing (on the simulated FreeBSD host).
import path from 'node:path';
import t from 'tap';
import { comparable, podHost, podmanDefaultNetwork } from './helpers/podnet.js';
import { podLab, root, type PodLab } from './helpers/pods.js';
import { filesMatching, snapshotTree } from './helpers/snapshot.js';
import { PLUGIN_DIR, run } from './helpers/run.js';
import { setup, tool } from './helpers/sim.js';

t.setTimeout(900_000);

const LEASE = /(^|\/)\d+\.\d+\.\d+\.\d+$/;

async function ok(lab: PodLab, args: string[]): Promise<string> {
  const run = await lab.jailnet(args);
  if (run.code !== 0) throw new Error(`jailnet ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

/** A plugin's environment as a runtime gives it, pointed at the lab's simulator and jailnet.conf. */
function pluginEnv(h: { sim: { env: Record<string, string> }; dir: string }, call: { command: string; containerId: string; netns: string; ifname: string; path: string }) {
  return { ...h.sim.env, JAILNET_HOST: 'freebsd', JAILNET_CONFIG: path.join(h.dir, 'jailnet.conf'), CNI_COMMAND: call.command, CNI_CONTAINERID: call.containerId, CNI_NETNS: call.netns, CNI_IFNAME: call.ifname, CNI_PATH: call.path };
}

async function leftovers(dir: string): Promise<string[]> {
  const tree = await snapshotTree(dir);
  return [...filesMatching(tree, LEASE), ...filesMatching(tree, /(^|\/)(attachments\/\w+|pods)\/[^/]*\.json$/), ...filesMatching(tree, /cni\/results\/./)];
}

t.test('pod rm goes on past failures, reports each, and a later pod rm finishes', async (t) => {
  const lab = await podLab(t);
  await ok(lab, ['network', 'create', 'net1', '--subnet', '10.89.60.0/24']);
  const before = comparable(lab.sim.state());
  await ok(lab, ['pod', 'create', 'web', '--network', 'net1', '-p', '8080:80']);
  await ok(lab, ['container', 'add', 'web', 'c1', '--path', root(lab, 'c1')]);
  await ok(lab, ['container', 'add', 'web', 'c2', '--path', root(lab, 'c2')]);
  // Two steps fail: one container's jail -r, and the portmap DEL's pfctl flush.
  await lab.sim.mutate((s) => {
    s.failOn = ['jail -r jailnet-web.c1', 'pfctl -a cni-rdr/jailnet-web-eth0 -F'];
  });
  const failed = await lab.jailnet(['--json', 'pod', 'rm', 'web', '--force']);
  t.equal(failed.code, 1, 'pod rm fails');
  const lines = failed.stderr.trim().split('\n');
  t.match(lines[0], /^jailnet: pod rm web: 2 steps failed$/, 'it says how many steps failed');
  t.match(lines.slice(1), [/^jailnet: container c1: jail -r jailnet-web\.c1: freebsd-sim: injected failure$/, /^jailnet: DEL net1\/eth0: .*pfctl -a cni-rdr\/jailnet-web-eth0 -F nat/], 'one line for each');
  t.equal(lines.length, 3, 'and nothing else');
  t.match(JSON.parse(failed.stdout), { error: { errors: [/container c1/, /DEL net1\/eth0/] } }, '--json has them all');
  t.notOk(lab.sim.state().jails.some((j) => j.name === 'jailnet-web.c2'), 'it went on: c2 is gone');
  t.notOk(lab.sim.state().jails.some((j) => j.name === 'jailnet-web'), 'and so is the pod jail (jail -r takes c1 with it)');
  t.match(JSON.parse(await ok(lab, ['pod', 'inspect', 'web'])), { state: 'removing', containers: [{ name: 'c1' }] }, 'the record stays, saying what failed');
  await lab.sim.mutate((s) => {
    s.failOn = [];
  });
  await ok(lab, ['pod', 'rm', 'web', '--force']);
  t.same(comparable(lab.sim.state(), ['jailnet0']), before, 'a second pod rm finishes the job');
  t.same(await leftovers(lab.dir), []);
});

t.test('gc finishes what a failed pod rm left', async (t) => {
  const lab = await podLab(t);
  await ok(lab, ['network', 'create', 'net1', '--subnet', '10.89.61.0/24']);
  const before = comparable(lab.sim.state());
  await ok(lab, ['pod', 'create', 'web', '--network', 'net1']);
  await lab.sim.mutate((s) => {
    s.failOn = ['jail -r jailnet-web'];
  });
  t.equal((await lab.jailnet(['pod', 'rm', 'web'])).code, 1);
  await lab.sim.mutate((s) => {
    s.failOn = [];
  });
  const gc = await ok(lab, ['gc']);
  t.match(gc, /removed pod web \(removing, jail jailnet-web\)/, 'gc says what it removed');
  t.same(comparable(lab.sim.state(), ['jailnet0']), before);
  t.same(await leftovers(lab.dir), []);
});

t.test('a failed pod create reports what its undo could not take away, and gc takes it', async (t) => {
  const lab = await podLab(t);
  await ok(lab, ['network', 'create', 'net1', '--subnet', '10.89.62.0/24']);
  const before = comparable(lab.sim.state());
  await lab.sim.mutate((s) => {
    // The route into the pod fails (the create fails), and so does the undo's jail -r.
    s.failOn = ['route -j jailnet-web', 'jail -r jailnet-web'];
  });
  const failed = await lab.jailnet(['pod', 'create', 'web', '--network', 'net1']);
  t.equal(failed.code, 1);
  const lines = failed.stderr.trim().split('\n');
  t.match(lines[0], /^jailnet: .*route -j jailnet-web .*injected failure \(undoing pod create web: 1 step failed\)$/, 'the failure first, then the undo’s');
  t.equal(lines.length, 2);
  t.match(lines[1], /^jailnet: jail jailnet-web: jail -r jailnet-web: freebsd-sim: injected failure$/);
  await lab.sim.mutate((s) => {
    s.failOn = [];
  });
  t.match(await ok(lab, ['gc']), /removed pod web \(creating, jail jailnet-web\)/);
  t.same(comparable(lab.sim.state(), ['jailnet0']), before);
  t.same(await leftovers(lab.dir), []);
});

t.test('gc and pod rm at once, and two gcs at once: both finish, nothing is left', async (t) => {
  const lab = await podLab(t);
  await ok(lab, ['network', 'create', 'net1', '--subnet', '10.89.63.0/24']);
  const before = comparable(lab.sim.state());
  let failures = 0;
  for (let round = 0; round < 4; round++) {
    await ok(lab, ['pod', 'create', `p${round}`, '--network', 'net1', '-p', `${8100 + round}:80`]);
    await ok(lab, ['container', 'add', `p${round}`, 'c1', '--path', root(lab, 'c1')]);
    const [rm, gc1, gc2] = await Promise.all([lab.jailnet(['pod', 'rm', `p${round}`, '--force']), lab.jailnet(['gc']), lab.jailnet(['gc'])]);
    for (const [what, run] of [['pod rm', rm], ['gc', gc1], ['gc', gc2]] as const) {
      if (run.code !== 0) failures++;
      t.equal(run.code, 0, `round ${round}: ${what} finished: ${run.stderr}`);
    }
    t.same(comparable(lab.sim.state(), ['jailnet0']), before, `round ${round}: nothing is left`);
    t.same(await leftovers(lab.dir), [], `round ${round}: no record, lease or cache entry`);
  }
  t.comment(`gc races: 4 rounds of pod rm with two gcs, ${failures} failures`);
});

t.test("gc leaves a runtime's attachment alone while its jail lives, and collects it once the jail is gone", async (t) => {
  const h = await podHost(t);
  const initial = comparable(h.sim.state(), ['cni-podman0']);
  await h.jail('ctr1');
  await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const added = await h.cli(['cni', 'add', '--network', 'podman', '--container-id', 'c1', '--netns', 'ctr1', '--runtime-config', JSON.stringify({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] })]);
  t.equal(added.code, 0, added.stderr);
  const live = { host: comparable(h.sim.state()), files: await snapshotTree(h.stateDir) };
  const gc = await h.cli(['gc']);
  t.equal(gc.code, 0, gc.stderr);
  t.match(gc.stdout, /nothing to remove/);
  t.same({ host: comparable(h.sim.state()), files: await snapshotTree(h.stateDir) }, live, 'gc changed nothing: the jail ctr1 exists');
  t.match(h.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 }), { delivered: true, jails: ['ctr1'] }, 'and the published port still works');

  await setup(h.sim, [['jail', '-r', 'ctr1']]);
  const collected = await h.cli(['gc']);
  t.equal(collected.code, 0, collected.stderr);
  t.match(collected.stdout, /removed attachment podman\/c1\/eth0 \(its sandbox ctr1 is gone\)/);
  t.same(comparable(h.sim.state(), ['cni-podman0']), initial, 'the interface, <cni-nat> entry and anchor went with it');
  t.same(await leftovers(h.dir), [], 'and the lease, records and cache entry');
});

t.test('failure paths change nothing', async (t) => {
  t.test('a pod create that fails on a port clash leaves nothing, and gc finds nothing', async (t) => {
    const lab = await podLab(t);
    await ok(lab, ['network', 'create', 'net1', '--subnet', '10.89.64.0/24']);
    await ok(lab, ['pod', 'create', 'a', '--network', 'net1', '-p', '8080:80']);
    const before = { host: comparable(lab.sim.state()), leases: await leftovers(lab.dir) };
    const clash = await lab.jailnet(['pod', 'create', 'b', '--network', 'net1', '-p', '8080:80']);
    t.equal(clash.code, 1);
    t.match(clash.stderr, /host port 8080\/tcp is already published/);
    t.same({ host: comparable(lab.sim.state()), leases: await leftovers(lab.dir) }, before, 'no interface (not even eth0 on the host), epair, <cni-nat> entry, lease or record');
    t.match(await ok(lab, ['gc']), /^nothing to remove$/m, 'gc has nothing to remove');
  });

  t.test('a bridge DEL with a malformed ipam section fails before it changes anything', async (t) => {
    const h = await podHost(t);
    await h.jail('ctr1');
    const good = podmanDefaultNetwork(h.leaseDir);
    await h.writeList('podman', good);
    t.equal((await h.cli(['cni', 'add', '--network', 'podman', '--container-id', 'c1', '--netns', 'ctr1'])).code, 0);
    const live = { host: comparable(h.sim.state()), files: await snapshotTree(h.stateDir), leases: await snapshotTree(h.leaseDir) };
    const bridge = structuredClone(good.plugins[0]) as Record<string, unknown> & { ipam: Record<string, unknown> };
    bridge.ipam.ranges = 'not a list';
    const call = { command: 'DEL', containerId: 'c1', netns: 'ctr1', ifname: 'eth0', path: PLUGIN_DIR };
    const del = await run(path.join(PLUGIN_DIR, 'bridge'), [], pluginEnv(h, call), JSON.stringify({ ...bridge, name: 'podman', cniVersion: '0.4.0' }));
    t.equal(del.code, 1);
    t.match(del.json, { code: 7, msg: 'invalid network config' }, 'the IPAM config is refused with code 7');
    t.same({ host: comparable(h.sim.state()), files: await snapshotTree(h.stateDir), leases: await snapshotTree(h.leaseDir) }, live, 'the epair, <cni-nat> entry, lease, record and cache entry are all still there');
    t.equal((await h.cli(['cni', 'del', '--network', 'podman', '--container-id', 'c1', '--netns', 'ctr1'])).code, 0, 'with the config as it was, DEL cleans up');
    t.same(await leftovers(h.dir), []);
  });

  t.test('tuning undoes the sysctls it applied when a later change fails', async (t) => {
    const h = await podHost(t);
    await h.jail('ctr1');
    const list = podmanDefaultNetwork(h.leaseDir);
    list.plugins[3] = { type: 'tuning', sysctl: { 'net.inet.ip.random_id': '1', 'net.inet6.ip6.accept_rtadv': '1' }, mtu: 9000 } as never;
    await h.writeList('podman', list);
    await h.sim.mutate((s) => {
      s.failOn = ['ifconfig -j ctr1 eth0 mtu'];
    });
    const jailVnet = () => h.sim.state().vnets.find((v) => v.id === h.sim.state().jails.find((j) => j.name === 'ctr1')?.vnetId);
    const sysctls = { ...jailVnet()?.sysctls };
    const before = h.sim.state();
    const add = await h.cli(['cni', 'add', '--network', 'podman', '--container-id', 'c1', '--netns', 'ctr1']);
    t.equal(add.code, 1, 'the ADD fails at the mtu');
    t.same(jailVnet()?.sysctls, sysctls, 'the sysctls applied before are back');
    t.same(comparable(h.sim.state(), ['cni-podman0']), comparable(before, ['cni-podman0']), 'and the chain undid the bridge too');
    t.same(await leftovers(h.dir), []);
  });

  t.test('a kill right after the epair is created: DEL finds it by its name', async (t) => {
    const h = await podHost(t);
    await h.jail('ctr1');
    await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
    t.equal((await h.cli(['cni', 'add', '--network', 'podman', '--container-id', 'warm', '--netns', 'ctr1'])).code, 0);
    t.equal((await h.cli(['cni', 'del', '--network', 'podman', '--container-id', 'warm', '--netns', 'ctr1'])).code, 0);
    const before = comparable(h.sim.state());
    const created = h.sim.state().commandCount;
    await h.sim.mutate((s) => {
      s.failOn = ['ifconfig -j ctr1 epair'];
    });
    await h.cli(['cni', 'add', '--network', 'podman', '--container-id', 'c1', '--netns', 'ctr1']);
    const create = h.sim.log().find((e, i) => i >= created && e.argv[1]?.startsWith('epair') && e.argv[2] === 'create');
    t.match(create?.argv, ['ifconfig', /^epair\d+$/, 'create', 'name', /^jn[0-9a-f]{12}$/, 'description', 'jailnet: pod ctr1 ifname eth0 network podman'], 'the epair is named in the command that creates it');
    await h.sim.mutate((s) => {
      s.failOn = [];
    });
    t.same(comparable(h.sim.state()), before, 'the failed ADD undid itself');
    await tool(h.sim, 'ifconfig', create?.argv.slice(1) ?? []);
    t.equal((await h.cli(['cni', 'del', '--network', 'podman', '--container-id', 'c1', '--netns', 'ctr1'])).code, 0);
    t.same(comparable(h.sim.state()), before, 'a pair left by that very command is found and destroyed by DEL');
  });
  t.end();
});
