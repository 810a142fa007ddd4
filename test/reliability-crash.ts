// Crashes at every step: `jailnet cni add` and `jailnet cni del` of podman's default
// chain with a published port, SIGKILLed right after each host command in turn. Then
// what podman would do (DEL again), or, separately, the jail goes and `jailnet gc`
// alone must clean up. Before either, gc must leave the attachment alone: its jail
// still exists, so it belongs to the runtime.
import path from 'node:path';
import t from 'tap';
import { crashAfter } from './helpers/crash.js';
import { comparable, podHost, podmanDefaultNetwork, type PodHost } from './helpers/podnet.js';
import { JAILNET, run } from './helpers/run.js';
import { setup } from './helpers/sim.js';
import { filesMatching, snapshotTree } from './helpers/snapshot.js';

t.setTimeout(1_800_000);

const ID = 'f'.repeat(64);
const PUBLISH = ['--runtime-config', JSON.stringify({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] })];
const LEASE = /(^|\/)\d+\.\d+\.\d+\.\d+$/;
const figures: string[] = [];
t.teardown(() => figures.forEach((line) => t.comment(line)));

interface Lab {
  h: PodHost;
  /** The host as a FreeBSD admin compares it: no bridge (it stays), no counters. */
  state(): Promise<unknown>;
  /** The host and what jailnet recorded of the attachment (leases, records, cache). */
  attachment(): Promise<unknown>;
  leftovers(): Promise<string[]>;
  args(command: 'add' | 'del'): string[];
}

const RECORDED = [LEASE, /^state\/attachments\/\w+\/.*\.json$/, /^state\/cni\/results\/./];

async function lab(t: Parameters<typeof podHost>[0]): Promise<Lab> {
  const h = await podHost(t);
  await h.jail('ctr1');
  await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  return {
    h,
    state: async () => comparable(h.sim.state(), ['cni-podman0']),
    async attachment() {
      const tree = await snapshotTree(h.dir);
      const recorded = Object.entries(tree).filter(([name]) => RECORDED.some((pattern) => pattern.test(name)));
      return { host: comparable(h.sim.state()), recorded };
    },
    async leftovers() {
      const tree = await snapshotTree(h.dir);
      return [
        ...filesMatching(tree, LEASE),
        ...filesMatching(tree, /^state\/attachments\/\w+\/.*\.json$/),
        ...filesMatching(tree, /^state\/cni\/results\/./),
        ...filesMatching(tree, /(\.lock|lock\.owner|\.q\/.*)$/).filter((f) => !f.startsWith('sim/')),
      ];
    },
    args: (command) => ['--config', path.join(h.dir, 'jailnet.conf'), 'cni', command, '--network', 'podman', '--container-id', ID, '--netns', 'ctr1', ...PUBLISH],
  };
}

function launch(l: Lab, command: 'add' | 'del') {
  const env = { ...l.h.sim.env, JAILNET_HOST: 'freebsd', JAILNET_CONFIG: path.join(l.h.dir, 'jailnet.conf') };
  return (extra: Record<string, string>, options: Parameters<typeof run>[4]) => run(process.execPath, [JAILNET, ...l.args(command)], { ...env, ...extra }, '', options);
}

/** The host commands one whole ADD runs, counted on a throwaway run. */
async function commandsOf(l: Lab, command: 'add' | 'del'): Promise<number> {
  const start = l.h.sim.state().commandCount;
  const ran = await l.h.cli(l.args(command).slice(2));
  if (ran.code !== 0) throw new Error(ran.stderr);
  return l.h.sim.state().commandCount - start;
}

/** Without the bridge, so that an ADD sets it up again: every one of its commands is a kill point. */
async function withoutBridge(l: Lab): Promise<void> {
  if (l.h.sim.state().ifaces.some((i) => i.name === 'cni-podman0')) await setup(l.h.sim, [['ifconfig', 'cni-podman0', 'destroy']]);
}

t.test('cni add killed after each host command; gc leaves it alone; DEL as podman would cleans up', async (t) => {
  const l = await lab(t);
  const initial = await l.state();
  // Once before, so that what a first ADD ever does once (the firewall's first look) is done.
  t.equal((await l.h.cli(l.args('add').slice(2))).code, 0);
  t.equal((await l.h.cli(l.args('del').slice(2))).code, 0);
  await withoutBridge(l);
  const commands = await commandsOf(l, 'add');
  t.equal((await l.h.cli(l.args('del').slice(2))).code, 0);
  t.same(await l.state(), initial, 'a whole ADD and DEL leave the host as before');
  let leaks = 0;
  let touched = 0;
  for (let n = 1; n <= commands; n++) {
    await withoutBridge(l);
    const { killedAfter } = await crashAfter(l.h.sim, n, launch(l, 'add'));
    t.ok(killedAfter, `killed after command ${n}: ${killedAfter}`);
    const crashed = await l.attachment();
    const gc = await l.h.cli(['gc']);
    t.equal(gc.code, 0, `gc runs: ${gc.stderr}`);
    const afterGc = await l.attachment();
    if (JSON.stringify(afterGc) !== JSON.stringify(crashed)) touched++;
    t.same(afterGc, crashed, 'gc does not touch an attachment whose jail exists');
    const del = await l.h.cli(l.args('del').slice(2));
    t.equal(del.code, 0, `DEL after the crash: ${del.stderr}`);
    const left = await l.leftovers();
    leaks += left.length;
    t.same(left, [], 'no lease, record, cache entry or lock is left');
    t.same(await l.state(), initial, `after a kill at ${killedAfter} and DEL, the host is as before`);
  }
  figures.push(`crash: cni add killed after each of ${commands} host commands, then DEL: ${leaks} leaks; gc touched a live attachment ${touched} times`);
});

t.test('cni add killed after each host command, the jail removed: gc alone cleans up', async (t) => {
  const l = await lab(t);
  // A second container on an existing bridge: podman's most frequent ADD.
  t.equal((await l.h.cli(l.args('add').slice(2))).code, 0);
  t.equal((await l.h.cli(l.args('del').slice(2))).code, 0);
  const commands = await commandsOf(l, 'add');
  t.equal((await l.h.cli(l.args('del').slice(2))).code, 0);
  await setup(l.h.sim, [['jail', '-r', 'ctr1']]);
  const initial = await l.state();
  await l.h.jail('ctr1');
  let leaks = 0;
  for (let n = 1; n <= commands; n++) {
    const { killedAfter } = await crashAfter(l.h.sim, n, launch(l, 'add'));
    t.ok(killedAfter, `killed after command ${n}: ${killedAfter}`);
    await setup(l.h.sim, [['jail', '-r', 'ctr1']]);
    const gc = await l.h.cli(['gc']);
    t.equal(gc.code, 0, `gc after the jail went: ${gc.stderr}`);
    const left = await l.leftovers();
    leaks += left.length;
    t.same(left, [], 'no lease, record, cache entry or lock is left');
    t.same(await l.state(), initial, `after a kill at ${killedAfter}, jail -r and gc, the host is as before`);
    await l.h.jail('ctr1');
  }
  figures.push(`crash: cni add killed after each of ${commands} host commands, jail removed, gc alone: ${leaks} leaks`);
});

t.test('cni del killed after each host command, then DEL again', async (t) => {
  const l = await lab(t);
  const initial = await l.state();
  t.equal((await l.h.cli(l.args('add').slice(2))).code, 0);
  const commands = await commandsOf(l, 'del');
  let leaks = 0;
  for (let n = 1; n <= commands; n++) {
    t.equal((await l.h.cli(l.args('add').slice(2))).code, 0);
    const { killedAfter } = await crashAfter(l.h.sim, n, launch(l, 'del'));
    t.ok(killedAfter, `killed after command ${n}: ${killedAfter}`);
    const again = await l.h.cli(l.args('del').slice(2));
    t.equal(again.code, 0, `DEL again: ${again.stderr}`);
    await l.h.cli(['gc']);
    const left = await l.leftovers();
    leaks += left.length;
    t.same(left, [], 'nothing is left');
    t.same(await l.state(), initial, `after a kill at ${killedAfter} and DEL again, the host is as before`);
  }
  figures.push(`crash: cni del killed after each of ${commands} host commands, then DEL again: ${leaks} leaks`);
});
