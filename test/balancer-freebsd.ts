// The load balancer (kata-ipvs) on the simulated FreeBSD host: a fourth pod's connections
// to a virtual service, made through the simulator's connection query, reach three real
// pods by the pf text jailnet loads into the pod's own vnet (rdr on lo0 after route-to
// lo0). rr, wrr by repetition, sticky-address persistence, delete-server, a service with
// no server, list counts from pf states, cleanup, restore; what pf cannot express is
// refused before any change; pod rm takes it all with the vnet.
import path from 'node:path';
import t from 'tap';
import { runtimeRequest, socketDir, startDaemonProcess } from './helpers/daemon.js';
import { podLab, type PodLab } from './helpers/pods.js';
import { JAILNET, run } from './helpers/run.js';
import { tool } from './helpers/sim.js';

t.setTimeout(600_000);

const VIP = '10.10.0.1';

async function pods(lab: PodLab): Promise<Record<string, string>> {
  const network = await lab.jailnet(['network', 'create', 'lbnet', '--subnet', '10.89.7.0/24']);
  if (network.code !== 0) throw new Error(network.stderr);
  const address: Record<string, string> = {};
  for (const pod of ['rs1', 'rs2', 'rs3', 'client']) {
    const created = await lab.jailnet(['pod', 'create', pod, '--network', 'lbnet']);
    if (created.code !== 0) throw new Error(created.stderr);
    address[pod] = (JSON.parse((await lab.jailnet(['pod', 'inspect', pod])).stdout).interfaces[0].addresses[0] as string).split('/')[0] as string;
  }
  return address;
}

const owner = (address: Record<string, string>, ip: string | undefined) => Object.keys(address).find((k) => address[k] === ip) ?? `?${ip}`;

t.test('rr, wrr, persistence, -d, an empty service, -Ln, cleanup, restore and refusals on pf', async (t) => {
  const lab = await podLab(t);
  const address = await pods(lab);
  const ipvs = (...args: string[]) => lab.jailnet(['kata-ipvs', 'ipvsadm', '--parameters', args.join(' '), 'client']);
  const connections = async (n: number) => {
    const reached: string[] = [];
    for (let i = 0; i < n; i++) {
      const result = await lab.sim.connect({ from: 'jailnet-client', to: VIP, port: 80 });
      reached.push(result.delivered ? `${owner(address, result.address)}:${result.port}` : `! ${result.reason}`);
    }
    return reached;
  };
  const tally = (reached: string[]) => reached.reduce<Record<string, number>>((m, r) => ({ ...m, [r]: (m[r] ?? 0) + 1 }), {});

  t.equal((await ipvs('-A', '-t', `${VIP}:80`, '-s', 'rr')).code, 0);
  for (const rs of ['rs1', 'rs2', 'rs3']) t.equal((await ipvs('-a', '-t', `${VIP}:80`, '-r', `${address[rs]}:8080`)).code, 0);
  const clientVnet = lab.sim.state().jails.find((j) => j.name === 'jailnet-client')?.vnetId;
  const pf = () => lab.sim.state().vnets.find((v) => v.id === clientVnet)?.pf;
  t.same(pf()?.anchors['jailnet-lb']?.rdr, [`rdr pass on lo0 inet proto tcp from any to ${VIP} port = 80 -> { ${address.rs1}, ${address.rs2}, ${address.rs3} } port 8080 round-robin`], "the pool is in the pod's own pf");
  t.equal(pf()?.enabled, true, "pf is on in the pod's vnet");
  t.same(tally(await connections(30)), { 'rs1:8080': 10, 'rs2:8080': 10, 'rs3:8080': 10 }, 'rr over 30 connections: 10 each');

  t.equal((await ipvs('-E', '-t', `${VIP}:80`, '-s', 'wrr')).code, 0);
  t.equal((await ipvs('-e', '-t', `${VIP}:80`, '-r', `${address.rs1}:8080`, '-w', '3')).code, 0);
  t.same(tally(await connections(500)), { 'rs1:8080': 300, 'rs2:8080': 100, 'rs3:8080': 100 }, 'wrr 3:1:1: the pool lists rs1 three times');

  const sh = await ipvs('-E', '-t', `${VIP}:80`, '-s', 'sh');
  t.equal(sh.code, 1);
  t.match(sh.stderr, /scheduler sh is not offered by jailnet's freebsd load balancer: use one of rr, wrr/);
  const ports = await ipvs('-a', '-t', `${VIP}:80`, '-r', `${address.rs2}:9090`);
  t.match(ports.stderr, /listen on different ports; a pf pool sends every server the same port/, 'one port per pool');
  t.equal(JSON.parse((await lab.jailnet(['pod', 'inspect', 'client'])).stdout).runtime.balancer.services[0].servers.length, 3, 'a refusal changes nothing');

  t.equal((await ipvs('-E', '-t', `${VIP}:80`, '-s', 'rr', '-p', '300')).code, 0);
  t.match(pf()?.anchors['']?.rdr ?? [], ['rdr-anchor "jailnet-lb"']);
  t.equal(pf()?.timeouts?.['src.track'], 300, 'persistence is the src.track timeout');
  t.equal(new Set(await connections(10)).size, 1, '-p: one client, one server (sticky-address)');

  t.equal((await ipvs('-L', '--timeout')).stdout, 'Timeout (tcp tcpfin udp): 86400 45 60\n', "before --set: pf's defaults");
  t.equal((await ipvs('--set', '900', '0', '30')).code, 0);
  t.match(pf()?.timeouts, { 'tcp.established': 900, 'tcp.finwait': 45, 'udp.multiple': 30, 'src.track': 300 }, '--set is pf timeouts in the pod vnet');
  t.equal((await ipvs('-L', '--timeout')).stdout, 'Timeout (tcp tcpfin udp): 900 45 30\n');
  t.equal((await ipvs('-E', '-t', `${VIP}:80`, '-p', '0')).code, 0);
  t.equal((await ipvs('-d', '-t', `${VIP}:80`, '-r', `${address.rs2}:8080`)).code, 0);
  t.same(tally(await connections(10)), { 'rs1:8080': 5, 'rs3:8080': 5 }, 'after -d no connection reaches it');

  const listed = await ipvs('-L', '-n');
  const counts = listed.stdout.split('\n').filter((l) => l.startsWith('  -> ') && !l.includes('RemoteAddress')).map((l) => l.trim().split(/\s+/).slice(1, 6));
  const statesTo = (rs: string) => (pf()?.states ?? []).filter((s) => s.dst === `${address[rs]}:8080` && s.original === `${VIP}:80`).length;
  t.ok(statesTo('rs1') > 0 && statesTo('rs3') > 0);
  t.same(counts, [
    [`${address.rs1}:8080`, 'Masq', '3', String(statesTo('rs1')), '0'],
    [`${address.rs3}:8080`, 'Masq', '1', String(statesTo('rs3')), '0'],
  ], `-Ln counts the pf states per server:\n${listed.stdout}`);
  const cleaned = await lab.jailnet(['kata-ipvs', 'cleanup', '--parameters', `--orig-dst ${VIP} --protonum tcp`, 'client']);
  t.match(cleaned.stdout, /^[1-9]\d* flow entries have been deleted\.\n$/, cleaned.stderr);
  t.equal(pf()?.states.length, 0, 'cleanup ended the states');

  t.equal((await ipvs('-d', '-t', `${VIP}:80`, '-r', `${address.rs1}:8080`)).code, 0);
  t.equal((await ipvs('-d', '-t', `${VIP}:80`, '-r', `${address.rs3}:8080`)).code, 0);
  const refused = await lab.sim.connect({ from: 'jailnet-client', to: VIP, port: 80 });
  t.notOk(refused.delivered, 'a service without a server refuses connections');
  t.match(refused.reason, /blocked by pf/);

  const batch = `-A -t ${VIP}:81 -s rr\n-a -t ${VIP}:81 -r ${address.rs1}:80 -m -w 1\n-a -t ${VIP}:81 -r ${address.rs2}:80 -m -w 1\n`;
  const restore = (...flags: string[]) => run(process.execPath, [JAILNET, 'kata-ipvs', 'ipvsadm', '--restore', '-', ...flags, 'client'], lab.env, batch);
  t.match((await restore()).stderr, /exist some rules in system, should clear first/);
  const replaced = await restore('--replace');
  t.equal(replaced.code, 0, replaced.stderr);
  t.same(pf()?.anchors['jailnet-lb']?.rdr, [`rdr pass on lo0 inet proto tcp from any to ${VIP} port = 81 -> { ${address.rs1}, ${address.rs2} } port 80 round-robin`], 'one load replaced the set');
  t.same(tally((await Promise.all([0, 1].map(async () => lab.sim.connect({ from: 'jailnet-client', to: VIP, port: 81 })))).map((r) => owner(address, r.address))), { rs1: 1, rs2: 1 });

  for (const pod of ['client', 'rs1', 'rs2', 'rs3']) t.equal((await lab.jailnet(['pod', 'rm', pod])).code, 0);
  t.notOk(lab.sim.state().vnets.some((v) => v.id === clientVnet), "the balancer went with the pod's vnet");
});

t.test("the contract's errors change nothing; calls on one pod serialise; the rules come back with a restored pod", async (t) => {
  const lab = await podLab(t);
  t.equal((await lab.jailnet(['network', 'create', 'lbnet', '--subnet', '10.89.9.0/24'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'create', 'lb', '--network', 'lbnet', '--restart', 'always'])).code, 0);
  const ipvs = (parameters: string) => lab.jailnet(['kata-ipvs', 'ipvsadm', '--parameters', parameters, 'lb']);
  t.equal((await ipvs(`-A -t ${VIP}:80 -s rr`)).code, 0);
  const vnetNow = () => lab.sim.state().jails.find((j) => j.name === 'jailnet-lb')?.vnetId;
  const pfNow = () => lab.sim.state().vnets.find((v) => v.id === vnetNow())?.pf;
  const snapshot = async () => ({ record: JSON.parse((await lab.jailnet(['pod', 'inspect', 'lb'])).stdout).runtime, anchor: pfNow()?.anchors['jailnet-lb'] });
  const before = await snapshot();
  const restore = (text: string, ...flags: string[]) => run(process.execPath, [JAILNET, 'kata-ipvs', 'ipvsadm', '--restore', ...flags, 'lb'], lab.env, text);
  const cases: Array<[string, () => ReturnType<typeof ipvs>, RegExp]> = [
    ['bad IP', () => ipvs('-A -t 10.10.0.256:80 -s rr'), /^jailnet: illegal virtual server address\[:port\] specified\n$/],
    ['port 0', () => ipvs('-a -t 10.10.0.1:80 -r 10.89.9.5:0'), /^jailnet: illegal real server address\[:port\] specified\n$/],
    ['port 65536', () => ipvs('-A -t 10.10.0.1:65536 -s rr'), /^jailnet: illegal virtual server address\[:port\] specified\n$/],
    ['unknown scheduler', () => ipvs('-A -t 10.10.0.1:81 -s fancy'), /^jailnet: Scheduler or persistence engine not found\n$/],
    ['a comment in a restore', () => restore('# rules\n-A -t 10.10.0.1:82 -s rr\n', '-', '--replace'), /^jailnet: line 1: a comment is not a rule\n$/],
    ['a blank line in a restore', () => restore('-A -t 10.10.0.1:82 -s rr\n\n', '-', '--replace'), /^jailnet: line 2: a blank line is not a rule\n$/],
    ['an empty restore', () => restore('', '-', '--replace'), /^jailnet: Rule file has no effective rule\.\n$/],
    ['a restore over rules', () => restore('-A -t 10.10.0.1:82 -s rr\n', '-'), /^jailnet: exist some rules in system, should clear first\n$/],
    ['--restore FILE', () => restore('', '/etc/rules'), /^jailnet: please use --restore - for stdin\n$/],
    ['an unknown pod', () => lab.jailnet(['kata-ipvs', 'ipvsadm', '--parameters', '-L -n', 'nosuch']), /^jailnet: no such container ID \(nosuch\)\n$/],
  ];
  for (const [what, call, message] of cases) {
    const result = await call();
    t.equal(result.code, 1, what);
    t.equal(result.stdout, '', `${what}: nothing on stdout`);
    t.match(result.stderr, message, what);
  }
  t.same(await snapshot(), before, 'none of them changed the record or the pf anchor');

  const parallel = await Promise.all(['10.89.9.11', '10.89.9.12', '10.89.9.13', '10.89.9.14'].map((rs) => ipvs(`-a -t ${VIP}:80 -r ${rs}:8080`)));
  t.same(parallel.map((r) => r.code), [0, 0, 0, 0], 'four concurrent adds to one pod');
  t.equal(JSON.parse((await lab.jailnet(['pod', 'inspect', 'lb'])).stdout).runtime.balancer.services[0].servers.length, 4, 'none lost another');
  t.match(pfNow()?.anchors['jailnet-lb']?.rdr?.[0], /-> \{ 10\.89\.9\.1[1-4], 10\.89\.9\.1[1-4], 10\.89\.9\.1[1-4], 10\.89\.9\.1[1-4] \} port 8080 round-robin$/);

  // rc.d stop and start: the pod comes back with its balancer in a new vnet.
  const oldVnet = vnetNow();
  t.equal((await lab.jailnet(['pod', 'rm', '--all'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'restore'])).code, 0);
  t.not(vnetNow(), oldVnet, 'a new vnet');
  t.match(pfNow()?.anchors['jailnet-lb']?.rdr?.[0], /^rdr pass on lo0 inet proto tcp from any to 10\.10\.0\.1 port = 80 -> \{/, 'the rules came back with the pod');
  t.equal((await ipvs('-S -n')).stdout.split('\n').filter(Boolean).length, 5);
  t.ok((await lab.sim.connect({ from: 'jailnet-lb', to: VIP, port: 80 })).path.some((p) => p.includes('route-to lo0')), 'and they work');
});

t.test("jailnetd's socket serves kata-ipvs as the CLI does: one rule, a batch, a listing, a cleanup, the errors", async (t) => {
  const lab = await podLab(t);
  const address = await pods(lab);
  const socket = path.join(await socketDir(t), 'd.sock');
  await startDaemonProcess(t, lab.env, socket);
  // The request is the one string kata's CLI sends its agent (runtime-network-api.md §1.7).
  const call = (id: string, request: string) => runtimeRequest(socket, `kata-ipvs ${id}`, request, lab.env);
  const clientVnet = lab.sim.state().jails.find((j) => j.name === 'jailnet-client')?.vnetId;
  const pf = () => lab.sim.state().vnets.find((v) => v.id === clientVnet)?.pf;
  t.same(await call('client', `ipvsadm -A -t ${VIP}:80 -s rr`), { code: 0, stdout: '', stderr: '' }, 'a change prints nothing');
  t.same(await call('client', `ipvsadm -a -t ${VIP}:80 -r ${address.rs1}:8080`), { code: 0, stdout: '', stderr: '' });
  // A pool of one is a plain rdr.
  t.same(pf()?.anchors['jailnet-lb']?.rdr, [`rdr pass on lo0 inet proto tcp from any to ${VIP} port = 80 -> ${address.rs1} port 8080`], "the rule is in the pod's pf");
  const viaCli = await lab.jailnet(['kata-ipvs', 'ipvsadm', '--parameters', '-S -n', 'client']);
  t.same(await call('client', 'ipvsadm -S -n'), { code: 0, stdout: viaCli.stdout, stderr: '' }, 'a listing is what the CLI prints');
  const delivered = await lab.sim.connect({ from: 'jailnet-client', to: VIP, port: 80 });
  t.equal(delivered.address, address.rs1, 'and it balances');
  t.match(await call('client', `conntrack -D --orig-dst ${VIP} --protonum tcp`), { code: 0, stdout: /^[1-9]\d* flow entries have been deleted\.\n$/ }, 'cleanup');

  const rules = [`-A -t ${VIP}:81 -s rr`, `-a -t ${VIP}:81 -r ${address.rs2}:80 -m -w 1`];
  t.match(await call('client', `restore|2|${rules.join('\n')}`), { code: 1, stdout: '', stderr: /^jailnet: exist some rules in system, should clear first\n$/ }, "the contract's error, one line on stderr");
  t.match(await call('client', `restore|3|${rules.join('\n')}`), { code: 1, stderr: /announces 3 rules and carries 2/ }, 'a count that does not match is refused');
  t.same(await call('client', `restore-replace|2|${rules.join('\n')}`), { code: 0, stdout: '', stderr: '' }, 'restore-replace: the CLI\'s --replace');
  t.same(pf()?.anchors['jailnet-lb']?.rdr, [`rdr pass on lo0 inet proto tcp from any to ${VIP} port = 81 -> ${address.rs2} port 80`], 'the batch replaced the rules');
  t.match(await call('client', 'ipvsadm -E -t 10.10.0.1:81 -s sh'), { code: 1, stderr: /scheduler sh is not offered/ }, "the driver's refusal");
  t.match(await call('nosuch', 'ipvsadm -L -n'), { code: 1, stdout: '', stderr: /no such container ID/ }, 'an unknown pod');
  t.match(await call('client', 'rm -rf /'), { code: 1, stderr: /a kata-ipvs request is "ipvsadm ARGS"/ }, 'anything else is refused, never run');
  t.match(await call('../client', 'ipvsadm -L'), { raw: /^jailnetd\/1 refused\nnot a jailnetd\/1 request line/ }, 'an ID with a path is refused');
  t.match(await call('client', 'ipvsadm -L -n'), { code: 0 }, 'and the daemon keeps serving');
});

t.test("a flush, a reload or pf turned off inside the pod: status names the balancer's drift, repair loads it again", async (t) => {
  const lab = await podLab(t);
  const address = await pods(lab);
  const ipvs = (...args: string[]) => lab.jailnet(['kata-ipvs', 'ipvsadm', '--parameters', args.join(' '), 'client']);
  t.equal((await ipvs('-A', '-t', `${VIP}:80`, '-s', 'rr')).code, 0);
  for (const rs of ['rs1', 'rs2']) t.equal((await ipvs('-a', '-t', `${VIP}:80`, '-r', `${address[rs]}:8080`)).code, 0);
  const reached = async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const result = await lab.sim.connect({ from: 'jailnet-client', to: VIP, port: 80 });
      seen.add(result.delivered ? owner(address, result.address) : `! ${result.reason}`);
    }
    return [...seen].sort();
  };
  t.same(await reached(), ['rs1', 'rs2'], 'balanced');
  const breakages: Array<[string, string[], string, RegExp]> = [
    ['the anchor flushed', ['pfctl', '-a', 'jailnet-lb', '-F', 'all'], '', /load balancer service tcp 10\.10\.0\.1:80 gone from the anchor jailnet-lb/],
    ['the main ruleset reloaded without the hook', ['pfctl', '-f', '-'], 'pass all\n', /the hook of the load balancer's anchor jailnet-lb is gone from the pod's pf/],
    ['pf disabled', ['pfctl', '-d'], '', /pf is disabled in the pod's vnet, so its load balancer does nothing/],
  ];
  for (const [what, argv, input, phrase] of breakages) {
    const broken = await tool(lab.sim, 'jexec', ['jailnet-client', ...argv], input);
    t.equal(broken.code, 0, `${what}: ${broken.stderr}`);
    t.notSame(await reached(), ['rs1', 'rs2'], `${what}: the service no longer balances`);
    const status = await lab.jailnet(['status']);
    t.equal(status.code, 1, `${what}: status fails`);
    t.match(status.stdout, new RegExp(`^FAIL {2}pod client: ${phrase.source} — fix: jailnet repair client$`, 'm'), `${what}: status names it`);
    const repaired = await lab.jailnet(['repair', 'client']);
    t.equal(repaired.code, 0, repaired.stderr);
    t.match(repaired.stdout, new RegExp(`^fixed pod client: ${phrase.source}$`, 'm'));
    t.same(await reached(), ['rs1', 'rs2'], `${what}: balanced again after repair`);
    t.equal((await lab.jailnet(['repair'])).stdout.trim(), 'nothing to repair', `${what}: a second repair finds nothing`);
  }
});
