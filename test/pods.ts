// Pods on the simulated FreeBSD host through the jailnet CLI: every mode's lifecycle,
// containers as child jails, the teardown order, crash recovery by gc, name checks.
import { promises as fs } from 'node:fs';
import t from 'tap';
import { crashAfter } from './helpers/crash.js';
import { comparable } from './helpers/podnet.js';
import { podLab, root, type PodLab } from './helpers/pods.js';
import { tool } from './helpers/sim.js';
import { BASE_PATHS } from './freebsd-sim/src/exec-box.js';

// The crash test below runs pod create once per host command, each followed by gc.
t.setTimeout(900_000);

const jailOf = (lab: PodLab, name: string) => lab.sim.state().jails.find((j) => j.name === name);
const ifacesIn = (lab: PodLab, jail: string) => {
  const vnet = jailOf(lab, jail)?.vnetId;
  return lab.sim.state().ifaces.filter((i) => i.vnet === vnet);
};

async function network(lab: PodLab, name: string, subnet: string, extra: string[] = []) {
  const created = await lab.jailnet(['network', 'create', name, '--subnet', subnet, ...extra]);
  if (created.code !== 0) throw new Error(created.stderr);
}

t.test('bridge mode: create, containers, publish, ordered removal', async (t) => {
  const lab = await podLab(t);
  await network(lab, 'net1', '10.89.0.0/24');
  const created = await lab.jailnet(['pod', 'create', 'web', '--network', 'net1', '-p', '8080:80']);
  t.equal(created.code, 0, created.stderr);
  const pod = JSON.parse(created.stdout);
  t.match(pod, { name: 'web', jail: 'jailnet-web', mode: 'bridge', state: 'ready', interfaces: [{ network: 'net1', ifname: 'eth0', addresses: ['10.89.0.2/24'] }], ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] });
  t.match(jailOf(lab, 'jailnet-web'), { vnet: 'new', path: '/', persist: true });
  t.notOk(Object.keys(jailOf(lab, 'jailnet-web')!.params).some((k) => k.startsWith('ip4') || k.startsWith('ip6')), 'the pod jail has no ip4/ip6 parameter');
  t.match(ifacesIn(lab, 'jailnet-web').map((i) => [i.name, i.up]), [['lo0', true], ['eth0', true]], 'loopback and eth0 are up');

  for (const c of ['c1', 'c2']) {
    const added = await lab.jailnet(['container', 'add', 'web', c, '--path', root(lab, c)]);
    t.equal(added.code, 0, added.stderr);
  }
  t.match(jailOf(lab, 'jailnet-web.c1'), { vnet: 'inherit', ip4: 'inherit', ip6: 'inherit', path: root(lab, 'c1') });
  t.equal((await lab.jailnet(['container', 'ls', 'web'])).stdout.split('\n').filter(Boolean).length, 2);
  t.match(lab.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 }), { delivered: true, jails: ['jailnet-web', 'jailnet-web.c1', 'jailnet-web.c2'] }, "the published port reaches the pod's containers");

  const refused = await lab.jailnet(['pod', 'rm', 'web']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /has running containers \(c1, c2\).*--force/);

  const start = lab.sim.log().length;
  const removed = await lab.jailnet(['pod', 'rm', 'web', '--force']);
  t.equal(removed.code, 0, removed.stderr);
  const order = lab.sim.log().slice(start).filter((e) => e.context === 'host').map((e) => e.argv.join(' '));
  const first = (pattern: RegExp) => order.findIndex((l) => pattern.test(l));
  const last = (pattern: RegExp) => order.length - 1 - [...order].reverse().findIndex((l) => pattern.test(l));
  t.ok(last(/^jail -r jailnet-web\.c2$/) < first(/^pfctl|^ifconfig jn/), 'containers go first');
  t.ok(last(/^ifconfig jn[0-9a-f]{12} destroy$/) < first(/^jail -r jailnet-web$/), 'then the DEL chain, before jail -r');
  t.ok(first(/^jail -r jailnet-web$/) < last(/^jls -d -j jailnet-web /), 'then jail -r, then the wait for the jail to be gone');
  t.ok(first(/^pfctl -a cni-rdr\//) < first(/^ifconfig jn/), 'the DEL chain runs in reverse: portmap before bridge');
  t.notOk(jailOf(lab, 'jailnet-web'), 'the pod jail is gone');
  t.same(await lab.jailnet(['pod', 'ls']).then((r) => r.stdout), '', 'no pod is listed');
});

t.test('none, host and container modes', async (t) => {
  const lab = await podLab(t);
  await network(lab, 'net1', '10.89.1.0/24');
  const none = await lab.jailnet(['pod', 'create', 'quiet', '--mode', 'none']);
  t.equal(none.code, 0, none.stderr);
  t.same(ifacesIn(lab, 'jailnet-quiet').map((i) => [i.name, i.up, i.inet]), [['lo0', true, [{ address: '127.0.0.1', prefix: 8 }]]], 'none: lo0 only');

  const host = await lab.jailnet(['pod', 'create', 'hostpod', '--mode', 'host']);
  t.equal(host.code, 0, host.stderr);
  t.match(jailOf(lab, 'jailnet-hostpod'), { vnet: 'inherit', vnetId: 'host', ip4: 'inherit' }, "host: no vnet jail; the host's stack");
  t.equal((await lab.jailnet(['container', 'add', 'hostpod', 'c1', '--path', root(lab, 'c1')])).code, 0);
  t.match(lab.sim.reach({ from: 'jailnet-hostpod.c1', to: '192.0.2.10', port: 22 }), { delivered: true, vnet: 'host' }, "its container uses the host's addresses");

  t.equal((await lab.jailnet(['pod', 'create', 'web', '--network', 'net1'])).code, 0);
  const side = await lab.jailnet(['pod', 'create', 'side', '--mode', 'container:web']);
  t.equal(side.code, 0, side.stderr);
  t.equal(jailOf(lab, 'jailnet-web.side')?.vnetId, jailOf(lab, 'jailnet-web')?.vnetId, "container mode shares the other pod's vnet");
  t.equal((await lab.jailnet(['container', 'add', 'side', 'c2', '--path', root(lab, 'c2')])).code, 0);
  const webAddress = (JSON.parse((await lab.jailnet(['pod', 'inspect', 'web'])).stdout).interfaces[0].addresses[0] as string).split('/')[0] as string;
  const shared = lab.sim.reach({ from: 'jailnet-web.side.c2', to: webAddress, port: 80 });
  t.match(shared, { delivered: true, vnet: jailOf(lab, 'jailnet-web')?.vnetId }, `a sharer's container reaches the pod's address locally: ${JSON.stringify(shared)}`);
  const blocked = await lab.jailnet(['pod', 'rm', 'web', '--force']);
  t.equal(blocked.code, 1);
  t.match(blocked.stderr, /shares its network with side/);

  for (const [pod, force] of [['side', true], ['web', false], ['hostpod', true], ['quiet', false]] as const) {
    const removed = await lab.jailnet(['pod', 'rm', pod, ...(force ? ['--force'] : [])]);
    t.equal(removed.code, 0, `${pod}: ${removed.stderr}`);
  }
  t.same(lab.sim.state().jails, [], 'every jail is gone');
});

t.test('two pods with two containers each: reachability and the privilege model', async (t) => {
  const lab = await podLab(t);
  await network(lab, 'net1', '10.89.2.0/24');
  for (const pod of ['a', 'b']) {
    t.equal((await lab.jailnet(['pod', 'create', pod, '--network', 'net1'])).code, 0);
    for (const c of ['c1', 'c2']) t.equal((await lab.jailnet(['container', 'add', pod, c, '--path', root(lab, c)])).code, 0);
  }
  for (const c of ['c1', 'c2']) {
    t.match(lab.sim.reach({ from: `jailnet-a.${c}`, to: '10.89.2.3', port: 80 }), { delivered: true, jails: ['jailnet-b', 'jailnet-b.c1', 'jailnet-b.c2'] }, `a/${c} reaches pod b`);
    t.match(lab.sim.reach({ from: `jailnet-b.${c}`, to: '10.89.2.2', port: 80 }), { delivered: true, jails: ['jailnet-a', 'jailnet-a.c1', 'jailnet-a.c2'] }, `b/${c} reaches pod a`);
  }
  const tries: Array<[string[], RegExp]> = [
    [['ifconfig', 'eth0', 'inet', '10.89.2.99/24', 'alias'], /ioctl \(SIOCAIFADDR\): permission denied/],
    [['ifconfig', 'eth0', 'down'], /down: permission denied/],
    [['ifconfig', 'epair', 'create'], /Operation not permitted/],
    [['route', 'add', '-net', '10.0.0.0/8', '10.89.2.1'], /Operation not permitted/],
    [['sysctl', 'net.inet.ip.forwarding=1'], /Operation not permitted/],
    [['pfctl', '-F', 'all'], /\/dev\/pf: No such file or directory/],
  ];
  const before = comparable(lab.sim.state());
  for (const [argv, message] of tries) {
    const result = await tool(lab.sim, 'jexec', ['jailnet-a.c1', BASE_PATHS[argv[0] as string] as string, ...argv.slice(1)]);
    t.equal(result.code, 1, `a container cannot run ${argv.join(' ')}`);
    t.match(result.stderr, message);
  }
  t.same(comparable(lab.sim.state()), before, 'and nothing changed');
  const reads = await tool(lab.sim, 'jexec', ['jailnet-a.c1', '/sbin/ifconfig', '-l']);
  t.equal(reads.stdout, 'lo0 eth0\n', 'it sees the pod network');
  const pod = await tool(lab.sim, 'jexec', ['jailnet-a', 'ifconfig', 'eth0', 'mtu', '1400']);
  t.equal(pod.code, 0, 'the pod jail itself owns its vnet');
});

t.test('names are checked before any host command', async (t) => {
  const lab = await podLab(t);
  await network(lab, 'net1', '10.89.3.0/24');
  const start = lab.sim.log().length;
  const bad = ['a.b', 'a/b', '..', 'a b', 'a;rm -rf /', '$(id)', 'x'.repeat(64), '', '-rf', '123'];
  for (const name of bad) {
    const pod = await lab.jailnet(['pod', 'create', '--network', 'net1', '--', name]);
    t.equal(pod.code, 1, `pod ${JSON.stringify(name)} is refused`);
    t.equal(pod.stderr.trim().split('\n').length, 1, 'in one line');
    t.match(pod.stderr, /^jailnet: /);
  }
  t.equal((await lab.jailnet(['pod', 'create', 'ok', '--network', 'net1'])).code, 0);
  const mark = lab.sim.log().length;
  for (const name of bad.slice(0, 7)) {
    t.equal((await lab.jailnet(['container', 'add', '--path', root(lab, 'c1'), '--', 'ok', name])).code, 1, `container ${JSON.stringify(name)} is refused`);
  }
  t.equal((await lab.jailnet(['container', 'add', 'ok', 'c1', '--path', '/tmp/../etc'])).code, 1, 'a path with .. is refused');
  t.same(lab.sim.log().slice(start, lab.sim.log().length).filter((_, i) => i + start < mark - 0 && i + start >= start).filter((e) => e.argv[0] === 'jail' && e.argv.some((a) => /name=jailnet-(a\.b|a\/b|\.\.)/.test(a))), [], 'no bad name reached jail(8)');
  t.same(lab.sim.log().slice(mark), [], 'no host command ran for a bad container name');
  const first = lab.sim.log().slice(start, start + 1);
  t.notMatch(first[0]?.argv.join(' ') ?? '', /a\.b|a b|;|\$\(/, 'the first host command is the good pod');
});

t.test('--dry-run prints the plan and changes nothing', async (t) => {
  const lab = await podLab(t);
  await network(lab, 'net1', '10.89.4.0/24');
  const before = lab.sim.state();
  const plan = await lab.jailnet(['--dry-run', 'pod', 'create', 'web', '--network', 'net1', '-p', '8080:80']);
  t.equal(plan.code, 0, plan.stderr);
  t.same(plan.stdout.trim().split('\n'), [
    `# write ${lab.stateDir}/pods/web.json`,
    'jail -c name=jailnet-web path=/ vnet persist children.max=64 host.hostname=web',
    'ifconfig -j jailnet-web lo0 inet 127.0.0.1/8 alias',
    'ifconfig -j jailnet-web lo0 up',
    'cni ADD bridge network=net1 netns=jailnet-web ifname=eth0',
    'cni ADD portmap network=net1 netns=jailnet-web ifname=eth0',
    'cni ADD firewall network=net1 netns=jailnet-web ifname=eth0',
    'cni ADD tuning network=net1 netns=jailnet-web ifname=eth0',
    `# write ${lab.stateDir}/cni/results/net1-jailnet-web-eth0`,
    `# write ${lab.stateDir}/pods/web.json`,
  ]);
  t.same(lab.sim.state().jails, before.jails, 'no jail was made');
  t.same(lab.sim.log().filter((e) => e.argv[0] !== 'sysctl' && e.argv[0] !== 'pfctl'), [], 'no host command ran');
  t.same(await fs.readdir(`${lab.stateDir}/pods`).then((f) => f.filter((n) => n.endsWith('.json')), () => []), [], 'no record was written');
  const conf = await lab.jailnet(['pod', 'create', 'web', '--emit-jail-conf']);
  t.match(conf.stdout, /^jailnet-web \{\n\tpath = "\/";\n\tpersist;\n\tvnet;\n/m);
});

t.test('a CLI killed at any host command of pod create: gc brings the host back', { timeout: 900_000 }, async (t) => {
  const lab = await podLab(t);
  await network(lab, 'net1', '10.89.5.0/24');
  // A host that has run a pod before: the network's bridge exists, as pod rm leaves it.
  t.equal((await lab.jailnet(['pod', 'create', 'warmup', '--network', 'net1', '-p', '8080:80'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'rm', 'warmup'])).code, 0);
  const initial = comparable(lab.sim.state());
  const start = lab.sim.state().commandCount;
  t.equal((await lab.jailnet(['pod', 'create', 'web', '--network', 'net1', '-p', '8080:80'])).code, 0);
  const commands = lab.sim.state().commandCount - start;
  t.equal((await lab.jailnet(['pod', 'rm', 'web'])).code, 0);
  t.same(comparable(lab.sim.state()), initial);

  for (let n = 1; n <= commands; n++) {
    const { run: killed, killedAfter: ran } = await crashAfter(lab.sim, n, lab.launch(['pod', 'create', 'web', '--network', 'net1', '-p', '8080:80']));
    t.ok(ran, `killed after command ${n}`);
    t.not(killed.code, 0, `killed after command ${n}`);
    const gc = await lab.jailnet(['gc']);
    t.equal(gc.code, 0, `gc after a kill at command ${n}: ${gc.stderr}`);
    t.same(comparable(lab.sim.state()), initial, `after a kill at command ${n} (${ran}) and gc, the host is as before`);
    t.same(await fs.readdir(`${lab.stateDir}/pods`).then((f) => f.filter((n) => n.endsWith('.json'))), [], 'no pod record is left');
  }
});
