// The load balancer (kata-ipvs) for real on the Linux driver: three pods run httpd answering
// with their own name, a container of a fourth pod connects to a virtual service that the
// fourth pod's balancer spreads over them. rr, wrr, sh, persistence, delete-server, list
// counts from conntrack, cleanup, restore, and pod rm taking it all away.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cliLab, linkRemove, missingPrerequisite, netnsRemove, serveHttp, sh } from './helpers/linux.js';
import { JAILNET, run, type Run } from './helpers/run.js';

const TALLY = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures', 'tally.mjs');
const missing = missingPrerequisite(['setpriv', 'conntrack']);
if (missing) {
  t.fail(`cannot run the Linux load-balancer tests: ${missing}`);
} else {
  const { cli, conf } = cliLab('balancer-linux');
  const bridge = 'jnt-lb0';
  const servers = ['jnt-lb1', 'jnt-lb2', 'jnt-lb3'];
  const client = 'jnt-lbc';
  const VIP = '10.245.99.1';
  t.teardown(() => {
    for (const pod of [...servers, client]) netnsRemove(`jailnet-${pod}`);
    linkRemove(bridge);
  });
  const ipvs = (...args: string[]) => cli('kata-ipvs', 'ipvsadm', '--parameters', args.join(' '), client);
  const tally = async (count: number, pause = 0): Promise<Record<string, number>> => {
    const run = await cli('container', 'exec', client, 'c1', '--', process.execPath, TALLY, `http://${VIP}:80/`, String(count), String(pause));
    if (run.code !== 0) throw new Error(run.stderr);
    return JSON.parse(run.stdout) as Record<string, number>;
  };
  const nftText = () => sh('ip', ['netns', 'exec', `jailnet-${client}`, 'nft', 'list', 'ruleset']).stdout;

  t.test('rr, wrr, sh, persistence, delete-server, list, cleanup, restore, pod rm', async (t) => {
    t.equal((await cli('network', 'create', 'jntlb', '--subnet', '10.245.7.0/24', '--bridge', bridge)).code, 0);
    const address: Record<string, string> = {};
    for (const pod of [...servers, client]) {
      const created: Run = await cli('--json', 'pod', 'create', pod, '--network', 'jntlb');
      t.equal(created.code, 0, created.stderr);
      address[pod] = created.json.interfaces[0].addresses[0].split('/')[0];
    }
    for (const pod of servers) serveHttp(`/run/netns/jailnet-${pod}`, `${pod}\n`, 8080);
    t.equal((await cli('container', 'add', client, 'c1', '--path', '/')).code, 0);
    const [a, b, c] = servers.map((s) => address[s] as string) as [string, string, string];

    t.equal((await ipvs('-A', '-t', `${VIP}:80`, '-s', 'rr')).code, 0);
    for (const server of [a, b, c]) {
      const added = await ipvs('-a', '-t', `${VIP}:80`, '-r', `${server}:8080`);
      t.equal(added.code, 0, added.stderr);
      t.equal(added.stdout, '', 'a change prints nothing');
    }
    t.same(await tally(30), { 'jnt-lb1': 10, 'jnt-lb2': 10, 'jnt-lb3': 10 }, 'rr over 30 connections: 10 each');

    t.equal((await ipvs('-E', '-t', `${VIP}:80`, '-s', 'wrr')).code, 0);
    t.equal((await ipvs('-e', '-t', `${VIP}:80`, '-r', `${a}:8080`, '-w', '3')).code, 0);
    const weighted = await tally(1000);
    t.ok(Math.abs((weighted['jnt-lb1'] ?? 0) - 600) <= 30, `wrr 3:1:1 over 1000: ${JSON.stringify(weighted)}`);
    t.ok(Math.abs((weighted['jnt-lb2'] ?? 0) - 200) <= 10 && Math.abs((weighted['jnt-lb3'] ?? 0) - 200) <= 10);

    t.equal((await ipvs('-E', '-t', `${VIP}:80`, '-s', 'sh')).code, 0);
    t.equal(Object.keys(await tally(20)).length, 1, 'sh: one client always reaches one server');

    t.equal((await ipvs('-E', '-t', `${VIP}:80`, '-s', 'rr', '-p', '5')).code, 0);
    const sticky = await tally(10, 100);
    t.equal(Object.keys(sticky).length, 1, `-p 5: a client stays on one server (${JSON.stringify(sticky)})`);
    await new Promise((r) => setTimeout(r, 5500));
    const after = await tally(1);
    t.not(Object.keys(after)[0], Object.keys(sticky)[0], 'after the timeout the next connection is scheduled anew (rr: the next server)');

    t.equal((await ipvs('-E', '-t', `${VIP}:80`, '-s', 'rr', '-p', '0')).code, 0, '-p 0: not persistent');
    t.equal((await ipvs('--set', '600', '0', '0')).code, 0);
    t.equal((await ipvs('-L', '--timeout')).stdout, 'Timeout (tcp tcpfin udp): 600 120 300\n', "--set's values, IPVS's where 0");
    t.match(nftText(), /ct timeout timeout-tcp-600-120 \{[^}]*established : 600/s, 'a ct timeout object in the pod netns');
    const timed = await tally(2);
    t.ok(!('!error' in timed) && Object.values(timed).reduce((a, b) => a + b, 0) === 2, `connections still go through with the timeouts set: ${JSON.stringify(timed)}`);
    t.equal((await ipvs('-d', '-t', `${VIP}:80`, '-r', `${b}:8080`)).code, 0);
    t.same(await tally(20), { 'jnt-lb1': 10, 'jnt-lb3': 10 }, 'after -d no new connection reaches the server');

    // An admin's `nft flush ruleset` inside the pod takes the balancer with it: status names
    // it, repair loads it again whole from the pod's record, and it balances as before.
    sh('ip', ['netns', 'exec', `jailnet-${client}`, 'nft', 'flush', 'ruleset']);
    const drifted = await cli('status');
    t.equal(drifted.code, 1, 'status fails on the drift');
    t.match(drifted.stdout, new RegExp(`^FAIL {2}pod ${client}: the load balancer's table ip jailnet-lb is gone — fix: jailnet repair ${client}$`, 'm'));
    const repaired = await cli('repair');
    t.equal(repaired.code, 0, repaired.stderr);
    t.match(repaired.stdout, new RegExp(`^fixed pod ${client}: the load balancer's table ip jailnet-lb is gone$`, 'm'));
    t.same(await tally(20), { 'jnt-lb1': 10, 'jnt-lb3': 10 }, 'after repair the service balances again');
    t.match(nftText(), /ct timeout timeout-tcp-600-120/, 'with its --set timeouts');
    t.equal((await cli('repair')).stdout.trim(), 'nothing to repair', 'a second repair: nothing');

    // Four connections held open: --list counts them from conntrack, cleanup ends them.
    const holder = spawn('ip', ['netns', 'exec', `jailnet-${client}`, process.execPath, TALLY, 'hold', VIP, '80', '4', '20'], { stdio: 'ignore' });
    t.teardown(() => holder.kill());
    await new Promise((r) => setTimeout(r, 1500));
    const listed = await ipvs('-L', '-n');
    t.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.split('\n');
    t.same(lines.slice(0, 4), [
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
      `TCP  ${VIP}:80 rr`,
    ], 'ipvsadm -Ln layout');
    const active = lines.slice(4, 6).map((l) => Number(l.trim().split(/\s+/)[4]));
    t.same(active, [2, 2], `the four held connections are active, two per server:\n${listed.stdout}`);
    const cleaned = await cli('kata-ipvs', 'cleanup', '--parameters', `--orig-dst ${VIP} --protonum tcp`, client);
    t.equal(cleaned.code, 0, cleaned.stderr);
    t.match(cleaned.stdout, /^\d+ flow entries have been deleted\.\n$/);
    t.ok(Number(cleaned.stdout.split(' ')[0]) >= 4, 'at least the held flows were deleted');
    const relisted = (await ipvs('-L', '-n')).stdout.split('\n').slice(4, 6).map((l) => Number(l.trim().split(/\s+/)[4]));
    t.same(relisted, [0, 0], 'no connection is tracked after cleanup');
    holder.kill();

    const batch = `-A -t ${VIP}:81 -s wrr\n-a -t ${VIP}:81 -r ${a}:8080 -m -w 2\n-A -u ${VIP}:53 -s rr -p 60\n-a -u ${VIP}:53 -r ${c}:53 -m -w 1\n`;
    const refused = await run(process.execPath, [JAILNET, '--config', conf, 'kata-ipvs', 'ipvsadm', '--restore', '-', client], {}, batch);
    t.equal(refused.code, 1);
    t.match(refused.stderr, /exist some rules in system, should clear first/);
    const before = nftText();
    const replaced = await run(process.execPath, [JAILNET, '--config', conf, 'kata-ipvs', 'ipvsadm', '--restore', '-', '--replace', client], {}, batch);
    t.equal(replaced.code, 0, replaced.stderr);
    t.not(nftText(), before);
    t.equal((await ipvs('-S', '-n')).stdout, `-A -t ${VIP}:81 -s wrr\n-a -t ${VIP}:81 -r ${a}:8080 -m -w 2\n-A -u ${VIP}:53 -s rr -p 60\n-a -u ${VIP}:53 -r ${c}:53 -m -w 1\n`, '--save prints the batch back');
    t.notMatch(nftText(), `${VIP} . tcp . 80`, 'the replaced service is gone from the packet filter');
    t.same(await tally(0), {});

    for (const pod of [client, ...servers]) t.equal((await cli('pod', 'rm', '--force', pod)).code, 0);
    t.notOk(existsSync(`/run/netns/jailnet-${client}`), "the balancer went with the pod's netns");
    t.equal((await cli('network', 'rm', 'jntlb')).code, 0);
  });
}
