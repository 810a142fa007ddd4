// jailnet's netavark executable on Linux, for real: it runs inside a scratch namespace that
// stands in for podman's host (its bridge, veth host ends and `inet jailnet` table are made
// there, the caller's namespace, not the machine's), with containers as namespaces under
// /run/netns as podman passes them. A container with a published port answers from the host
// side; a second one on two networks reaches it; connect and disconnect; teardown leaves
// nothing, also with the namespace gone.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { fetchFrom, missingPrerequisite, netnsAdd, netnsRemove, ping, scratchDir, serveHttp, sh } from './helpers/linux.js';
import { NETAVARK, networkOptions, type NetworkSpec } from './helpers/netavark.js';
import { run } from './helpers/run.js';
import { within } from './helpers/within.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const HOST_NS = 'jnt-nvhost';
const CTRS = ['jnt-nva', 'jnt-nvb', 'jnt-nvc'] as const;
const WEB: NetworkSpec = { name: 'jntweb', bridge: 'jnt-nv0', dns: true, subnets: [{ subnet: '10.246.50.0/24', gateway: '10.246.50.1' }] };
const BACK: NetworkSpec = { name: 'jntback', bridge: 'jnt-nv1', dns: true, ipv6: true, subnets: [{ subnet: '10.246.51.0/24', gateway: '10.246.51.1' }, { subnet: 'fd24:651::/64', gateway: 'fd24:651::1' }] };
const AARDVARK = '/usr/lib/podman/aardvark-dns';
const THIRD: NetworkSpec = { name: 'jntthird', bridge: 'jnt-nv2', internal: true, subnets: [{ subnet: '10.246.52.0/24', gateway: '10.246.52.1' }] };
const A = 'a3'.repeat(32);
const B = 'b4'.repeat(32);
const C = 'c5'.repeat(32);

/** busybox nslookup from inside a namespace, asking one server: the addresses of the answer, or NXDOMAIN. */
function lookup(ns: string, name: string, server: string): string {
  const r = sh('nsenter', [`--net=${ns}`, '--', 'timeout', '5', 'busybox', 'nslookup', '-type=a', name, server], { allowFailure: true });
  if (/NXDOMAIN|can't find/i.test(r.stdout + r.stderr)) return 'NXDOMAIN';
  const answer = (r.stdout.split(/Name:/)[1] ?? '').match(/Address: *([0-9.]+)/g) ?? [];
  return answer.map((a) => a.replace(/Address: */, '')).sort().join(',') || `no answer: ${r.stdout}${r.stderr}`;
}

const missing = missingPrerequisite();
if (missing) {
  t.fail(`cannot run the Linux netavark tests: ${missing}`);
} else {
  t.test('netavark setup and teardown with real namespaces, veths, a bridge and nftables', async (t) => {
    t.teardown(() => [...CTRS, HOST_NS].forEach(netnsRemove));
    const dir = scratchDir('netavark-linux');
    const conf = path.join(dir, 'jailnet.conf');
    writeFileSync(conf, `[runtime]\nstate_dir = ${path.join(dir, 'state')}\n`);
    const hostNs = netnsAdd(HOST_NS);
    sh('ip', ['-n', HOST_NS, 'link', 'set', 'lo', 'up']);
    const [nsA, nsB, nsC] = CTRS.map((c) => netnsAdd(c)) as [string, string, string];
    // The nft owner count lives in the run directory: one per host namespace, this one's own.
    const env = { PATH: process.env.PATH, JAILNET_CONFIG: conf, JAILNET_RUN_DIR: path.join(dir, 'jailnet-run') };
    const nv = (args: string[], input: unknown) =>
      run('/usr/bin/nsenter', [`--net=${hostNs}`, '--', NETAVARK, '--config', path.join(dir, 'run'), '--rootless=false', `--aardvark-binary=${AARDVARK}`, ...args], env, JSON.stringify(input));
    const inHost = (file: string, args: string[]) => sh('nsenter', [`--net=${hostNs}`, '--', file, ...args], { allowFailure: true }).stdout;
    const inCtr = (ns: string, args: string[]) => sh('nsenter', [`--net=${ns}`, '--', 'ip', ...args]).stdout;
    const hostLinks = () => inHost('ip', ['-o', 'link']).split('\n').filter(Boolean).map((l) => l.split(':')[1]?.trim().split('@')[0]);

    const a = networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.246.50.2'] }], [{ container_port: 80, host_port: 18080 }], 'map', ['www']);
    const setA = await nv(['setup', nsA], a);
    t.equal(setA.code, 0, setA.stdout);
    t.match(setA.json, { jntweb: { dns_server_ips: ['10.246.50.1'], dns_search_domains: ['dns.podman'], interfaces: { eth0: { subnets: [{ ipnet: '10.246.50.2/24', gateway: '10.246.50.1' }] } } } });
    const aardvarkFile = path.join(dir, 'run', 'aardvark-dns', 'jntweb');
    t.equal(readFileSync(aardvarkFile, 'utf8'), `10.246.50.1\n${A} 10.246.50.2  ctr-a,www,${A.slice(0, 12)}\n`, "aardvark's file: the gateway, then the container's line");
    const pid = Number(readFileSync(path.join(dir, 'run', 'aardvark-dns', 'aardvark.pid'), 'utf8'));
    t.ok(pid > 1, 'aardvark-dns started, its pid recorded');
    t.match(inCtr(nsA, ['-o', 'addr', 'show', 'lo']), /inet 127\.0\.0\.1\/8/, 'lo up with 127.0.0.1');
    t.match(inCtr(nsA, ['-o', 'addr', 'show', 'eth0']), /inet 10\.246\.50\.2\/24/);
    t.match(inCtr(nsA, ['link', 'show', 'eth0']), new RegExp(setA.json.jntweb.interfaces.eth0.mac_address), 'the MAC the answer gives');
    t.match(inCtr(nsA, ['route']), /^default via 10\.246\.50\.1 dev eth0/m);
    t.match(inHost('ip', ['-o', 'addr', 'show', 'jnt-nv0']), /inet 10\.246\.50\.1\/24/, 'the gateway on the bridge, in the caller\'s namespace');
    t.notOk(sh('ip', ['link', 'show', 'jnt-nv0'], { allowFailure: true }).code === 0, "nothing on the machine's own namespace");
    serveHttp(nsA, 'from a\n');
    t.same(fetchFrom(hostNs, 'http://10.246.50.1:18080/'), { ok: true, body: 'from a\n' }, 'the published port answers from the host side, by DNAT');

    const b = networkOptions(B, 'ctr-b', [{ network: WEB, ips: ['10.246.50.3'] }, { network: BACK, ips: ['10.246.51.3', 'fd24:651::3'], mac: '02:00:00:00:be:ef' }]);
    const setB = await nv(['setup', nsB], b);
    t.equal(setB.code, 0, setB.stdout);
    t.same(Object.keys(setB.json), ['jntweb', 'jntback']);
    t.match(inCtr(nsB, ['link', 'show', 'eth1']), /02:00:00:00:be:ef/, 'static_mac');
    t.equal(inCtr(nsB, ['route']).match(/^default/gm)?.length, 1, 'one default route, the first network\'s');
    t.match(setB.json.jntback.interfaces.eth1.subnets, [{ ipnet: '10.246.51.3/24', gateway: '10.246.51.1' }, { ipnet: 'fd24:651::3/64', gateway: 'fd24:651::1' }], 'dual stack in the answer');
    t.match(inCtr(nsB, ['-6', '-o', 'addr', 'show', 'eth1']), /inet6 fd24:651::3\/64/, 'the IPv6 address on eth1');
    t.match(inCtr(nsB, ['-6', 'route']), /^default via fd24:651::1 dev eth1/m, 'the IPv6 default route, from the only network that has IPv6');
    t.match(inHost('ip', ['-6', '-o', 'addr', 'show', 'jnt-nv1']), /inet6 fd24:651::1\/64/, 'the IPv6 gateway on the bridge');
    t.match(inHost('cat', [path.join(dir, 'run', 'aardvark-dns', 'jntback')]), /^10\.246\.51\.1,fd24:651::1\n.* 10\.246\.51\.3 fd24:651::3 ctr-b,/m, "aardvark's file lists both families");
    t.ok(ping(nsB, '10.246.50.2'), 'b reaches a');
    t.same(fetchFrom(nsB, 'http://10.246.50.1:18080/'), { ok: true, body: 'from a\n' }, 'another container reaches the published port');
    t.equal(lookup(nsB, 'ctr-a', '10.246.50.1'), '10.246.50.2', 'b resolves a by name');
    t.equal(lookup(nsB, 'www', '10.246.51.1'), '10.246.50.2', 'and by alias, through the gateway of its other network');
    t.equal(lookup(nsA, 'ctr-b.dns.podman', '10.246.50.1'), '10.246.50.3', 'a resolves b under the search domain');
    const c = networkOptions(C, 'ctr-c', [{ network: BACK, ips: ['10.246.51.4'] }]);
    t.equal((await nv(['setup', nsC], c)).code, 0);
    t.equal(lookup(nsC, 'ctr-b', '10.246.51.1'), '10.246.51.3', 'c, on back only, resolves b');
    t.equal(lookup(nsC, 'ctr-a', '10.246.51.1'), 'NXDOMAIN', 'and not a, which is on web only');
    t.equal(readFileSync(path.join(dir, 'run', 'aardvark-dns', 'aardvark.pid'), 'utf8').trim(), String(pid), 'one aardvark for all, reloaded, not restarted');
    const update = await nv(['update', 'jntback', '--network-dns-servers', '192.0.2.53,192.0.2.54'], null);
    t.equal(update.code, 0, update.stdout);
    t.match(readFileSync(path.join(dir, 'run', 'aardvark-dns', 'jntback'), 'utf8'), /^10\.246\.51\.1,fd24:651::1 192\.0\.2\.53,192\.0\.2\.54\n/, 'update rewrites the servers');
    t.equal((await nv(['teardown', nsC], c)).code, 0);
    t.equal(lookup(nsB, 'ctr-c', '10.246.51.1'), 'NXDOMAIN', 'a container torn down no longer resolves');

    const third = networkOptions(B, 'ctr-b', [{ network: THIRD, ips: ['10.246.52.3'], ifname: 'eth2' }]);
    t.equal((await nv(['setup', nsB], third)).code, 0, 'network connect');
    t.match(inCtr(nsB, ['-o', 'addr', 'show', 'eth2']), /10\.246\.52\.3\/24/);
    t.equal((await nv(['teardown', nsB], third)).code, 0, 'network disconnect');
    t.notOk(hostLinks().includes('jnt-nv2'), 'its bridge is gone with its last container');
    t.match(inCtr(nsB, ['-o', 'addr', 'show', 'eth1']), /10\.246\.51\.3/, 'the other networks stay');

    t.equal((await nv(['teardown', nsA], a)).code, 0);
    netnsRemove(CTRS[1]);
    const gone = await nv(['teardown', nsB], b);
    t.equal(gone.code, 0, `teardown with the namespace gone: ${gone.stdout}`);
    t.same(hostLinks(), ['lo'], 'no bridge or veth left in the host namespace');
    t.equal(inHost('nft', ['list', 'tables']).trim(), '', `no nft table left: ${inHost('nft', ['list', 'ruleset'])}`);
    t.equal((await nv(['teardown', nsA], a)).code, 0, 'teardown twice');
    t.same(readdirSync(path.join(dir, 'run', 'aardvark-dns')), [], 'no aardvark file left');
    t.ok(await within(5_000, () => !isAlive(pid)), 'aardvark-dns exited with its last entry');
  });
}
