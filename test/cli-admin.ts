// The admin side of the CLI on the simulated host: networks, status, restart-always
// pods across rc.d stop/start, the rc.d script itself.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DAEMON_SOCKET } from '../dist/persistent-names.js';
import { podLab } from './helpers/pods.js';
import { ROOT } from './helpers/run.js';
import { tool } from './helpers/sim.js';
import { DAEMON_HEAP_OPTIONS } from '../dist/daemon/autostart.js';

t.test('network create, ls, inspect, rm', async (t) => {
  const lab = await podLab(t);
  const created = await lab.jailnet(['--json', 'network', 'create', 'net1', '--subnet', '10.89.7.0/24', '--ipv6', '--isolate', '--mtu', '1400']);
  t.equal(created.code, 0, created.stderr);
  const list = JSON.parse(await fs.readFile(path.join(lab.netDir, 'net1.conflist'), 'utf8'));
  t.match(list, {
    cniVersion: '0.4.0',
    name: 'net1',
    plugins: [
      { type: 'bridge', bridge: 'jailnet0', isGateway: true, ipMasq: true, hairpinMode: true, mtu: 1400, capabilities: { ips: true }, ipam: { type: 'host-local', routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall', ingressPolicy: 'same-bridge' },
      { type: 'tuning' },
    ],
  });
  t.equal(list.plugins[0].ipam.ranges[0][0].subnet, '10.89.7.0/24');
  t.match(list.plugins[0].ipam.ranges[1][0].subnet, /^fd[0-9a-f]{2}:[0-9a-f]{4}:[0-9a-f]{4}::\/64$/, '--ipv6 adds a ULA /64');
  const auto = await lab.jailnet(['network', 'create', 'net2', '--internal']);
  t.equal(auto.code, 0, auto.stderr);
  const net2 = JSON.parse(await fs.readFile(path.join(lab.netDir, 'net2.conflist'), 'utf8'));
  t.equal(net2.plugins[0].ipam.ranges[0][0].subnet, '10.89.0.0/24', 'the first free /24 of the pool');
  t.equal(net2.plugins[0].bridge, 'jailnet1');
  t.match(net2.plugins[0], { isGateway: false, ipMasq: false, ipam: { routes: [] } }, '--internal: no gateway, no masquerade, no default route');
  t.match((await lab.jailnet(['network', 'create', 'net3', '--subnet', '10.89.7.0/25'])).stderr, /overlaps another network/);
  t.match((await lab.jailnet(['network', 'create', 'net1'])).stderr, /network net1 already exists/);
  const ls = await lab.jailnet(['network', 'ls']);
  t.match(ls.stdout, /^net1 +jailnet0 +10\.89\.7\.0\/24,fd/m);
  t.equal(JSON.parse((await lab.jailnet(['network', 'inspect', 'net2'])).stdout).name, 'net2');
  t.equal((await lab.jailnet(['pod', 'create', 'web', '--network', 'net2'])).code, 0);
  const refused = await lab.jailnet(['network', 'rm', 'net2']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /network net2 is used by pod web/);
  t.equal((await lab.jailnet(['pod', 'rm', 'web'])).code, 0);
  const bridges = () => lab.sim.state().ifaces.filter((i) => i.vnet === 'host' && /^jailnet\d$/.test(i.name)).map((i) => i.name);
  t.same(bridges(), ['jailnet1'], 'pod rm leaves the bridge to its network');
  const dry = await lab.jailnet(['--dry-run', 'network', 'rm', 'net2']);
  t.match(dry.stdout, /ifconfig jailnet1 destroy/, 'the plan names the bridge');
  t.same(bridges(), ['jailnet1'], '--dry-run keeps it');
  const removed = await lab.jailnet(['network', 'rm', 'net2']);
  t.equal(removed.code, 0, removed.stderr);
  t.match(removed.stdout, /^removed net2 \(.*net2\.conflist\) and its bridge jailnet1$/m);
  t.same(bridges(), [], 'network rm removes the bridge nothing uses');
  t.same((await fs.readdir(lab.netDir)).sort(), ['net1.conflist']);

  // A bridge an admin's interface is a member of stays, and the user is told.
  t.equal((await lab.jailnet(['network', 'create', 'net4', '--subnet', '10.89.9.0/24'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'create', 'web4', '--network', 'net4'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'rm', 'web4'])).code, 0);
  const own = (await tool(lab.sim, 'ifconfig', ['epair', 'create'])).stdout.trim();
  t.equal((await tool(lab.sim, 'ifconfig', ['jailnet1', 'addm', own])).code, 0, "the admin's member");
  const kept = await lab.jailnet(['--json', 'network', 'rm', 'net4']);
  t.equal(kept.code, 0, kept.stderr);
  t.match(JSON.parse(kept.stdout), { removed: 'net4', bridge: { name: 'jailnet1', outcome: 'kept', reason: `it has members jailnet did not attach (${own})` } });
  t.same(bridges(), ['jailnet1'], 'the bridge stays');
});

t.test('--gateway, --ip-range, and a pod with --ip and --mac', async (t) => {
  const lab = await podLab(t);
  const created = await lab.jailnet(['network', 'create', 'ranged', '--subnet', '10.89.10.0/24', '--gateway', '10.89.10.254', '--ip-range', '10.89.10.128/25']);
  t.equal(created.code, 0, created.stderr);
  const list = JSON.parse(await fs.readFile(path.join(lab.netDir, 'ranged.conflist'), 'utf8'));
  t.same(list.plugins[0].ipam.ranges, [[{ subnet: '10.89.10.0/24', gateway: '10.89.10.254', rangeStart: '10.89.10.128', rangeEnd: '10.89.10.254' }]]);
  t.match((await lab.jailnet(['network', 'create', 'bad', '--subnet', '10.89.11.0/24', '--ip-range', '10.89.12.0/25'])).stderr, /is not inside 10\.89\.11\.0\/24/);
  const first = await lab.jailnet(['pod', 'create', 'a', '--network', 'ranged']);
  t.equal(JSON.parse(first.stdout).interfaces[0].addresses[0], '10.89.10.128/24', 'allocation starts at the range, skipping nothing');
  t.equal(JSON.parse(first.stdout).interfaces[0].gateways[0], '10.89.10.254');
  const fixed = await lab.jailnet(['pod', 'create', 'b', '--network', 'ranged', '--ip', '10.89.10.200', '--mac', '02:00:00:00:00:42']);
  t.equal(fixed.code, 0, fixed.stderr);
  t.match(JSON.parse(fixed.stdout).interfaces[0], { addresses: ['10.89.10.200/24'], mac: '02:00:00:00:00:42' });
  const taken = await lab.jailnet(['pod', 'create', 'c', '--network', 'ranged', '--ip', '10.89.10.200']);
  t.equal(taken.code, 1);
  t.match(taken.stderr, /10\.89\.10\.200 is not available/);
  t.notOk(lab.sim.state().jails.some((j) => j.name === 'jailnet-c'), 'the failed pod left no jail');
  t.equal((await lab.jailnet(['pod', 'inspect', 'c'])).code, 1, 'nor a record');
});

t.test('status: one line per check, with the fix', async (t) => {
  const lab = await podLab(t);
  const ready = await lab.jailnet(['status']);
  t.equal(ready.code, 0, ready.stdout);
  t.equal(ready.stdout.split('\n').filter(Boolean).length, 10);
  t.match(ready.stdout, /^note {2}jailnetd is not running on \S+: each plugin and netavark call starts a Node process — to run it: sysrc jailnetd_enable=YES && service jailnetd start, or \[daemon\] autostart = yes in jailnet\.conf$/m, 'a note, which is not a failure');
  t.match(ready.stdout, /^ok {4}pods' networks match jailnet's records$/m);
  t.match(ready.stdout, /^ok {4}pf\.conf hooks the cni-rdr\/\* anchors$/m);
  await tool(lab.sim, 'pfctl', ['-d']);
  await tool(lab.sim, 'sysctl', ['net.pf.filter_local=0']);
  await tool(lab.sim, 'pfctl', ['-f', '-'], 'pass all\n');
  const broken = await lab.jailnet(['status']);
  t.equal(broken.code, 1);
  t.match(broken.stdout, /^FAIL  pf enabled — fix: pfctl -e/m);
  t.match(broken.stdout, /^FAIL  pf\.conf hooks the cni-rdr\/\* anchors — fix: add rdr-anchor/m);
  t.match(broken.stdout, /^FAIL  pf\.conf masquerades <cni-nat>/m);
  t.match(broken.stdout, /^FAIL  net\.pf\.filter_local=1 — fix: sysctl net\.pf\.filter_local=1/m);
  t.match(broken.stdout, /^ok {4}if_bridge loaded$/m);
});

t.test('restart always: rc.d stop keeps the pod, a reboot and rc.d start bring it back', async (t) => {
  const lab = await podLab(t);
  t.equal((await lab.jailnet(['network', 'create', 'net1', '--subnet', '10.89.8.0/24'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'create', 'db', '--network', 'net1', '--restart', 'always'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'create', 'tmp', '--network', 'net1'])).code, 0);
  const stop = await lab.jailnet(['pod', 'rm', '--all']);
  t.equal(stop.code, 0, stop.stderr);
  t.same(lab.sim.state().jails, [], 'stop took every pod down');
  t.match(JSON.parse((await lab.jailnet(['pod', 'inspect', 'db'])).stdout), { state: 'stopped' }, 'the restart-always pod is remembered');
  t.equal((await lab.jailnet(['pod', 'inspect', 'tmp'])).code, 1, 'the other one is gone');
  const start = await lab.jailnet(['gc']);
  t.equal(start.code, 0, start.stderr);
  const restored = await lab.jailnet(['--json', 'pod', 'restore']);
  t.equal(restored.code, 0, restored.stderr);
  t.match(JSON.parse(restored.stdout), [{ name: 'db', state: 'ready', interfaces: [{ network: 'net1', addresses: [/^10\.89\.8\./] }] }]);
  t.ok(lab.sim.state().jails.some((j) => j.name === 'jailnet-db'));

  // A reboot: every jail and vnet is gone, the records stay.
  await lab.sim.mutate((s) => {
    for (const j of s.jails) {
      j.dying = true;
      j.dyingUntil = 0;
    }
  });
  const gc = await lab.jailnet(['gc']);
  t.equal(gc.code, 0, gc.stderr);
  t.match(JSON.parse((await lab.jailnet(['pod', 'inspect', 'db'])).stdout), { state: 'stopped' }, 'gc marks the vanished pod stopped');
  t.equal((await lab.jailnet(['pod', 'restore'])).code, 0);
  t.match(JSON.parse((await lab.jailnet(['pod', 'inspect', 'db'])).stdout), { state: 'ready' });
});

t.test('rc.d/jailnet follows rc.subr and is shellcheck-clean', async (t) => {
  const script = await fs.readFile(path.join(ROOT, 'rc.d', 'jailnet'), 'utf8');
  for (const line of ['# PROVIDE: jailnet', '# REQUIRE: NETWORKING pf', '# KEYWORD: shutdown', 'rcvar="jailnet_enable"', 'extra_commands="gc repair"', 'run_rc_command "$1"']) {
    t.ok(script.includes(line), line);
  }
  t.match(script, /jailnet_cli pod restore\n(\s*#.*\n)*\s*jailnet_cli repair\n/, 'start repairs after restoring pods');
  t.match(script, /jailnet_stop\(\)\n\{\n(\s*#.*\n)*\s*jailnet_netmon_stop\n/, 'stop ends netmon before the teardown');
  const port = await fs.readFile(path.join(ROOT, 'ports/net/jailnet/files/jailnet.in'), 'utf8');
  t.equal(port.replaceAll('%%PREFIX%%', '/usr/local'), script, "the port's rc.d script is this one");
  const check = spawnSync('shellcheck', ['-s', 'sh', path.join(ROOT, 'rc.d', 'jailnet')], { encoding: 'utf8' });
  t.equal(check.error, undefined, 'shellcheck runs (scripts/install.sh installs it)');
  t.equal(check.status, 0, check.stdout);
});

t.test('rc.d/jailnetd runs jailnet daemon under daemon(8) and is shellcheck-clean', async (t) => {
  const script = await fs.readFile(path.join(ROOT, 'rc.d', 'jailnetd'), 'utf8');
  for (const line of ['# PROVIDE: jailnetd', '# BEFORE: jailnet jail', '# KEYWORD: shutdown', 'rcvar="jailnetd_enable"', 'command="/usr/sbin/daemon"', 'procname="/usr/sbin/daemon"', 'run_rc_command "$1"']) {
    t.ok(script.includes(line), line);
  }
  t.match(script, /command_args="-P \$\{pidfile\} -r .* daemon --socket \$\{jailnetd_socket\}"/, 'supervised, restarted, with its pidfile');
  t.match(script, `jailnetd_socket:=${DAEMON_SOCKET}`, 'the socket the shims look for');
  const check = spawnSync('shellcheck', ['-s', 'sh', path.join(ROOT, 'rc.d', 'jailnetd')], { encoding: 'utf8' });
  t.equal(check.status, 0, check.stdout);
  const unit = await fs.readFile(path.join(ROOT, 'systemd', 'jailnetd.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/local\/bin\/jailnet daemon$/m, 'the systemd unit runs the same command');
  const unitHeap = /^Environment="NODE_OPTIONS=(.+)"$/m.exec(unit)?.[1];
  const rcHeap = /jailnetd_node_options:=(.+)\}"$/m.exec(script)?.[1];
  t.ok(unitHeap?.includes('--max-semi-space-size='), `the unit bounds the daemon's heap: ${unitHeap}`);
  t.equal(rcHeap, unitHeap, 'rc.d/jailnetd gives the daemon the same heap bounds');
  t.equal(DAEMON_HEAP_OPTIONS.join(' '), unitHeap, 'and so does [daemon] autostart');
  t.match(script, /\/usr\/bin\/env NODE_OPTIONS=\\"\$\{jailnetd_node_options\}\\" \$\{jailnetd_program\}/, 'rc.d passes them through env(1)');
  const verify = spawnSync('systemd-analyze', ['verify', path.join(ROOT, 'systemd', 'jailnetd.service')], { encoding: 'utf8' });
  if (verify.error === undefined) t.notMatch(verify.stderr, /jailnetd\.service:\d+/, `systemd-analyze finds nothing in the unit: ${verify.stderr}`);
});

t.test('[network] disable_new_netns: pods use the host network', async (t) => {
  const lab = await podLab(t);
  const conf = `${lab.dir}/jailnet.conf`;
  await fs.appendFile(conf, '[network]\ndisable_new_netns = true\n');
  t.equal((await lab.jailnet(['network', 'create', 'net1', '--subnet', '10.89.9.0/24'])).code, 0);
  const pod = await lab.jailnet(['pod', 'create', 'p']);
  t.equal(pod.code, 0, pod.stderr);
  t.match(JSON.parse(pod.stdout), { mode: 'host' });
  t.match(lab.sim.state().jails.find((j) => j.name === 'jailnet-p'), { vnet: 'inherit', vnetId: 'host' });
  const refused = await lab.jailnet(['pod', 'create', 'q', '--network', 'net1']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /\[network\] disable_new_netns is set/);
  await fs.appendFile(conf, '[netmon]\nenable_netmon = true\n');
  const conflict = await lab.jailnet(['pod', 'ls']);
  t.equal(conflict.code, 2);
  t.match(conflict.stderr, /\[network\] disable_new_netns conflicts with \[netmon\] enable_netmon/);
});

t.test('jail.conf templates render', async (t) => {
  const lab = await podLab(t);
  const bridge = await lab.jailnet(['pod', 'create', 'web', '--emit-jail-conf']);
  t.match(bridge.stdout, /^jailnet-web \{$/m);
  t.match(bridge.stdout, /^\tvnet;$/m);
  t.notMatch(bridge.stdout, /ip4/);
  const host = await lab.jailnet(['pod', 'create', 'web', '--mode', 'host', '--emit-jail-conf']);
  t.match(host.stdout, /^\tip4 = inherit;$/m);
  t.notMatch(host.stdout, /vnet/);
  const container = await lab.jailnet(['container', 'add', 'web', 'app', '--path', '/jails/app', '--emit-jail-conf']);
  t.match(container.stdout, /^jailnet-web\.app \{\n\tpath = "\/jails\/app";\n\tpersist;\n\tip4 = inherit;\n\tip6 = inherit;\n/m);
  t.notMatch(container.stdout, /^\tvnet/m, "no vnet parameter");
  t.same(lab.sim.log().filter((e) => e.argv[0] === 'jail'), [], 'rendering runs nothing');
});
