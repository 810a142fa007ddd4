// --dry-run changes nothing, anywhere: every command that accepts it, on a host with
// live pods, containers, a stopped restart-always pod and a runtime's CNI attachment,
// leaves the state dir (records, CNI cache, leases, locks), the config dir and the
// simulated host exactly as they were — and still plans from what is really there.
import t from 'tap';
import { crashAfter } from './helpers/crash.js';
import { comparable } from './helpers/podnet.js';
import { podLab, root, type PodLab } from './helpers/pods.js';
import { snapshotTree } from './helpers/snapshot.js';
import { setup } from './helpers/sim.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { formatPlan, formatStep, shellQuote, type PlanStep } from '../src/util/change-plan.js';

t.setTimeout(600_000);

async function ok(lab: PodLab, args: string[]): Promise<string> {
  const run = await lab.jailnet(args);
  if (run.code !== 0) throw new Error(`jailnet ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

async function snapshot(lab: PodLab) {
  return { files: await snapshotTree(lab.dir).then((tree) => Object.fromEntries(Object.entries(tree).filter(([name]) => !name.startsWith('sim/')))), host: comparable(lab.sim.state()) };
}

/** A host in use: two networks, pods with containers and a published port, a stopped pod, a runtime's attachment. */
async function busyHost(t: Parameters<typeof podLab>[0]): Promise<PodLab> {
  const lab = await podLab(t);
  await ok(lab, ['network', 'create', 'net1', '--subnet', '10.89.40.0/24']);
  await ok(lab, ['network', 'create', 'spare', '--subnet', '10.89.41.0/24']);
  // rc.d stop: the restart-always pod stays recorded, stopped.
  await ok(lab, ['pod', 'create', 'db', '--network', 'net1', '--restart', 'always']);
  await ok(lab, ['pod', 'rm', '--all']);
  await ok(lab, ['pod', 'create', 'p1', '--network', 'net1', '-p', '8080:80']);
  await ok(lab, ['container', 'add', 'p1', 'c1', '--path', root(lab, 'c1')]);
  await ok(lab, ['pod', 'create', 'quiet', '--mode', 'none']);
  await ok(lab, ['pod', 'create', 'db2', '--network', 'net1', '--restart', 'always']);
  await setup(lab.sim, [['jail', '-c', 'name=ctr1', 'path=/', 'vnet', 'persist']]);
  await ok(lab, ['cni', 'add', '--network', 'net1', '--container-id', 'c1c1c1', '--netns', 'ctr1']);
  // The runtime API's inputs, and an epair it plugged into p1.
  const inputs: Record<string, unknown> = {
    tap: { device: 'jnrt-t1', name: 'eth5', hwAddr: '02:00:00:00:05:01', mtu: 1500, IPAddresses: [{ address: '172.16.5.2', mask: '24' }] },
    pair: { device: 'jnrt-p1', name: 'eth6', linkType: 'epair', hwAddr: '02:00:00:00:06:01', mtu: 1500 },
    route: { dest: '10.9.0.0/24', gateway: '10.89.40.1', device: 'eth0' },
    routes: [{ dest: '10.9.1.0/24', gateway: '10.89.40.1', device: 'eth0' }],
    eth5: { name: 'eth5' },
  };
  for (const [name, value] of Object.entries(inputs)) await fs.writeFile(input(lab, name), JSON.stringify(value));
  await ok(lab, ['kata-network', 'add-iface', 'p1', input(lab, 'pair')]);
  await ok(lab, ['kata-ipvs', 'ipvsadm', '--parameters', '-A -t 10.10.0.1:80 -s rr', 'p1']);
  await ok(lab, ['kata-ipvs', 'ipvsadm', '--parameters', '-a -t 10.10.0.1:80 -r 10.89.40.7:80', 'p1']);
  return lab;
}

/** The runtime API input `name` written by busyHost. */
const input = (lab: PodLab, name: string): string => path.join(lab.dir, `runtime-${name}.json`);
/** `@name` in a command stands for that input. */
const withInputs = (lab: PodLab, args: string[]): string[] => args.map((a) => (a.startsWith('@') ? input(lab, a.slice(1)) : a));

const DRY_RUNS: string[][] = [
  ['network', 'create', 'n2', '--subnet', '10.89.42.0/24'],
  ['network', 'ls'],
  ['network', 'inspect', 'net1'],
  ['network', 'rm', 'spare'],
  ['pod', 'create', 'p4', '--network', 'net1', '-p', '9090:90'],
  ['pod', 'rm', 'p1', '--force'],
  ['pod', 'rm', 'quiet'],
  ['pod', 'rm', '--all'],
  ['pod', 'restore'],
  ['pod', 'ls'],
  ['pod', 'inspect', 'p1'],
  ['container', 'add', 'p1', 'c2', '--path', '/'],
  ['container', 'rm', 'p1', 'c1'],
  ['container', 'exec', 'p1', 'c1', '--', '/sbin/ifconfig', 'lo0', 'down'],
  ['container', 'ls', 'p1'],
  ['gc'],
  ['status'],
  ['cni', 'add', '--network', 'net1', '--container-id', 'c2c2c2', '--netns', 'ctr1', '--ifname', 'eth1'],
  ['cni', 'del', '--network', 'net1', '--container-id', 'c1c1c1', '--netns', 'ctr1'],
  ['cni', 'check', '--network', 'net1', '--container-id', 'c1c1c1', '--netns', 'ctr1'],
  ['cni', 'gc', '--network', 'net1'],
  ['host', 'interfaces'],
  ['host', 'jails'],
  ['kata-network', 'add-iface', 'p1', '@tap'],
  ['kata-network', 'del-iface', 'p1', '@pair'],
  ['kata-network', 'add-route', 'p1', '@route'],
  ['kata-network', 'update-routes', 'p1', '@routes'],
  ['kata-network', 'list-ifaces', 'p1'],
  ['kata-network', 'list-routes', 'p1'],
  ['kata-ipvs', 'ipvsadm', '--parameters', '-A -t 10.10.0.2:80 -s wrr', 'p1'],
  ['kata-ipvs', 'ipvsadm', '--parameters', '-d -t 10.10.0.1:80 -r 10.89.40.7:80', 'p1'],
  ['kata-ipvs', 'ipvsadm', '--parameters', '-C', 'p1'],
  ['kata-ipvs', 'ipvsadm', '--parameters', '-L -n', 'p1'],
  ['kata-ipvs', 'cleanup', '--parameters', '--orig-dst 10.10.0.1 --protonum tcp', 'p1'],
];

t.test('every command with --dry-run leaves state, config and host byte-identical', async (t) => {
  const lab = await busyHost(t);
  const before = await snapshot(lab);
  let changes = 0;
  for (const args of DRY_RUNS.map((a) => withInputs(lab, a))) {
    const run = await lab.jailnet(['--dry-run', ...args]);
    t.equal(run.code, 0, `--dry-run ${args.join(' ')} runs: ${run.stderr}`);
    const after = await snapshot(lab);
    const same = JSON.stringify(after) === JSON.stringify(before);
    if (!same) changes++;
    t.same(after, before, `--dry-run ${args.join(' ')} changed nothing`);
  }
  t.comment(`dry-run: ${DRY_RUNS.length} commands, ${changes} state changes found`);
});

t.test('--dry-run gc keeps live pods: their records, their cache, their jails', async (t) => {
  const lab = await busyHost(t);
  const plan = await ok(lab, ['--dry-run', 'gc']);
  t.notMatch(plan, /jail -r|pods\/p1\.json|cni\/results/, 'the plan touches no live pod');
  t.match(await ok(lab, ['pod', 'ls']), /^p1 /m, 'pod ls still lists p1');
  const gc = await ok(lab, ['gc']);
  t.match(gc, /nothing to remove/, 'and a real gc afterwards finds nothing to remove');
  t.ok(lab.sim.state().jails.some((j) => j.name === 'jailnet-p1'), "p1's jail is still there");
});

t.test('--dry-run reads the real host: the plan gc shows is what gc then does', async (t) => {
  const lab = await busyHost(t);
  const { killedAfter } = await crashAfter(lab.sim, 4, lab.launch(['pod', 'create', 'dead', '--mode', 'none']));
  t.ok(killedAfter, `pod create killed after ${killedAfter}`);
  const before = await snapshot(lab);
  const plan = await ok(lab, ['--dry-run', 'gc']);
  t.match(plan, /^jail -r jailnet-dead$/m, 'the plan removes the dead pod’s jail');
  t.match(plan, new RegExp(`^# remove ${lab.stateDir}/pods/dead\\.json$`, 'm'), 'and its record');
  t.same(await snapshot(lab), before, 'without doing it');
  const gc = await ok(lab, ['gc']);
  t.match(gc, /removed pod dead \(creating, jail jailnet-dead\)/);
  t.notOk(lab.sim.state().jails.some((j) => j.name === 'jailnet-dead'), 'the real gc removed it');
});

t.test('--dry-run pod restore plans the restart-always pods', async (t) => {
  const lab = await busyHost(t);
  const plan = await ok(lab, ['--dry-run', 'pod', 'restore']);
  t.match(plan, /^jail -c name=jailnet-db path=\/ vnet /m, 'the stopped pod would be re-created');
  t.match(plan, /^cni ADD bridge network=net1 netns=jailnet-db ifname=eth0$/m);
  t.match(JSON.parse(await ok(lab, ['pod', 'inspect', 'db'])), { state: 'stopped' }, 'and is still stopped');
});

/** Whether `lines` occur in `log` in this order (other lines may come between). */
function inOrder(lines: string[], log: string[]): boolean {
  let at = 0;
  for (const line of lines) {
    const found = log.indexOf(line, at);
    if (found < 0) return false;
    at = found + 1;
  }
  return true;
}

t.test('for every command, the plan --dry-run prints is the journal of the real run that follows', async (t) => {
  const lab = await busyHost(t);
  await setup(lab.sim, [['jail', '-c', 'name=ctr2', 'path=/', 'vnet', 'persist']]);
  const sequence: string[][] = [
    ['network', 'create', 'n2', '--subnet', '10.89.42.0/24'],
    ['network', 'rm', 'spare'],
    ['pod', 'create', 'p4', '--network', 'net1', '-p', '9090:90'],
    ['container', 'add', 'p1', 'c2', '--path', root(lab, 'c2')],
    ['container', 'rm', 'p1', 'c1'],
    ['cni', 'add', '--network', 'net1', '--container-id', 'c2c2c2', '--netns', 'ctr2'],
    ['cni', 'check', '--network', 'net1', '--container-id', 'c1c1c1', '--netns', 'ctr1'],
    ['cni', 'del', '--network', 'net1', '--container-id', 'c1c1c1', '--netns', 'ctr1'],
    ['kata-network', 'add-iface', 'p1', '@tap'],
    ['kata-network', 'add-route', 'p1', '@route'],
    ['kata-network', 'update-routes', 'p1', '@routes'],
    ['kata-network', 'del-iface', 'p1', '@eth5'],
    ['pod', 'rm', 'quiet'],
    ['pod', 'rm', 'p1', '--force'],
    ['gc'],
    ['pod', 'rm', '--all'],
    ['pod', 'restore'],
  ];
  for (const [i, args] of sequence.map((a) => withInputs(lab, a)).entries()) {
    // gc gets something to collect: a pod create killed part way.
    if (args[0] === 'gc') await crashAfter(lab.sim, 4, lab.launch(['pod', 'create', 'dead', '--mode', 'none']));
    const dry = JSON.parse(await ok(lab, ['--json', '--dry-run', ...args])) as { plan: PlanStep[] };
    const journal = path.join(lab.dir, `journal-${i}`);
    const start = lab.sim.log().length;
    await ok(lab, ['--journal', journal, ...args]);
    const done = await fs.readFile(journal, 'utf8').catch(() => '');
    t.ok(dry.plan.length > 0, `${args.join(' ')} plans changes`);
    t.equal(done, `${formatPlan(dry.plan)}\n`, `${args.join(' ')}: the real run did what the dry run planned`);
    // The journal is no story: its host commands are what the simulated host saw, in order.
    const seen = lab.sim.log().slice(start).map((e) => e.argv.map(shellQuote).join(' '));
    const journalled = dry.plan.filter((step) => step.kind === 'host').map(formatStep);
    t.ok(inOrder(journalled, seen), `${args.join(' ')}: every journalled host command reached the host, in order`);
  }
});
