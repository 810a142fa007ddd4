// jailnet's pods on the Linux driver, for real: a network namespace per pod, containers
// as processes in it (own pid and UTS namespaces, no CAP_NET_ADMIN), published ports, and
// an ordered teardown that leaves nothing; then 20 pods created and removed in parallel.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cliLab, fetchFrom, hostAddress, hostLinks, jailnetNft, linkRemove, missingPrerequisite, netnsRemove, ping, sh } from './helpers/linux.js';

const missing = missingPrerequisite(['setpriv', 'hostname']);
if (missing) {
  t.fail(`cannot run the Linux pod tests: ${missing}`);
} else {
  const { dir, state, cli } = cliLab('linux-pods');
  const leftovers = (network: string, bridge: string) => ({
    leases: readdirSync(path.join(state, 'networks', network)).filter((n) => !/^(lock|last_reserved_ip\.\d+)$/.test(n)),
    veths: hostLinks().filter((l) => l.master === bridge).map((l) => l.ifname),
    netns: readdirSync('/run/netns').filter((n) => n.startsWith('jailnet-jnt')),
    holders: existsSync('/run/jailnet/jails') ? readdirSync('/run/jailnet/jails').filter((n) => n.startsWith('jailnet-jnt')) : [],
    cache: existsSync(path.join(state, 'cni', 'results')) ? readdirSync(path.join(state, 'cni', 'results')) : [],
  });
  const nothingLeft = { leases: [], veths: [], netns: [], holders: [], cache: [] };

  t.test('two pods with a container each: ping across, a published port, no privilege, ordered teardown', async (t) => {
    const bridge = 'jnt-pods0';
    t.teardown(() => {
      for (const pod of ['jnt-pa', 'jnt-pb']) netnsRemove(`jailnet-${pod}`);
      linkRemove(bridge);
    });
    t.equal((await cli('network', 'create', 'jntpods', '--subnet', '10.246.0.0/24', '--bridge', bridge)).code, 0);
    const a = await cli('--json', 'pod', 'create', 'jnt-pa', '--network', 'jntpods', '-p', '18491:80');
    t.equal(a.code, 0, a.stderr);
    const b = await cli('--json', 'pod', 'create', 'jnt-pb', '--network', 'jntpods');
    t.equal(b.code, 0, b.stderr);
    const addressA = a.json.interfaces[0].addresses[0].split('/')[0];
    t.ok(existsSync('/run/netns/jailnet-jnt-pa'), 'the pod is a named network namespace');
    const www = path.join(dir, 'www');
    mkdirSync(www, { recursive: true });
    writeFileSync(path.join(www, 'index.html'), 'pod a\n');
    t.equal((await cli('container', 'add', 'jnt-pa', 'web', '--path', '/')).code, 0);
    t.equal((await cli('container', 'add', 'jnt-pb', 'client', '--path', '/', '--hostname', 'client-b')).code, 0);
    t.equal((await cli('container', 'exec', 'jnt-pb', 'client', 'hostname')).stdout, 'client-b\n', 'the container has its own hostname');
    t.equal((await cli('container', 'exec', 'jnt-pa', 'web', '--', 'busybox', 'httpd', '-p', '80', '-h', www)).code, 0, 'httpd started in a container');
    const pingAcross = await cli('container', 'exec', 'jnt-pb', 'client', '--', 'busybox', 'ping', '-c', '1', '-W', '2', addressA);
    t.equal(pingAcross.code, 0, `a container of pod b pings pod a: ${pingAcross.stderr}`);
    t.same(fetchFrom(undefined, `http://${hostAddress()}:18491/`), { ok: true, body: 'pod a\n' }, 'the published port answers from the container');
    const reconfigure = await cli('container', 'exec', 'jnt-pb', 'client', '--', 'busybox', 'ip', 'addr', 'add', '192.0.2.77/32', 'dev', 'eth0');
    t.not(reconfigure.code, 0, 'a container cannot add an address');
    t.match(reconfigure.stderr, /Operation not permitted/);
    const busy = await cli('pod', 'rm', 'jnt-pa');
    t.equal(busy.code, 1, 'pod rm refuses while containers run');
    t.match(busy.stderr, /has running containers \(web\)/);
    for (const pod of ['jnt-pa', 'jnt-pb']) t.equal((await cli('pod', 'rm', '--force', pod)).code, 0, `pod rm --force ${pod}`);
    t.same(leftovers('jntpods', bridge), nothingLeft, 'no lease, veth, netns, container or cache file is left');
    t.notMatch(jailnetNft().text, addressA, 'no nft rule is left');
    t.notOk(fetchFrom(undefined, 'http://127.0.0.1:18491/').ok, 'the port is closed');
    t.ok(hostLinks().some((l) => l.ifname === bridge), 'the bridge stays with its network');
    const removed = await cli('network', 'rm', 'jntpods');
    t.equal(removed.code, 0, removed.stderr);
    t.match(removed.stdout, `and its bridge ${bridge}`);
    t.notOk(hostLinks().some((l) => l.ifname === bridge), 'network rm removes the bridge nothing uses');
  });

  t.test("network rm keeps a bridge with a member that is not jailnet's, and says so", async (t) => {
    const bridge = 'jnt-pods2';
    const member = 'jnt-pods2m';
    t.teardown(() => {
      netnsRemove('jailnet-jnt-pk');
      linkRemove(member);
      linkRemove(bridge);
    });
    t.equal((await cli('network', 'create', 'jntkeep', '--subnet', '10.246.2.0/24', '--bridge', bridge)).code, 0);
    t.equal((await cli('pod', 'create', 'jnt-pk', '--network', 'jntkeep')).code, 0);
    t.equal((await cli('pod', 'rm', 'jnt-pk')).code, 0);
    sh('ip', ['link', 'add', member, 'type', 'veth', 'peer', 'name', `${member.slice(0, -1)}p`]);
    sh('ip', ['link', 'set', member, 'master', bridge]);
    const removed = await cli('network', 'rm', 'jntkeep');
    t.equal(removed.code, 0, removed.stderr);
    t.match(removed.stdout, `bridge ${bridge} kept: it has members jailnet did not attach (${member})`);
    t.ok(hostLinks().some((l) => l.ifname === bridge), 'the bridge stays');
  });

  t.test('20 pods created in parallel: unique addresses, all reachable, all removed without leaks', async (t) => {
    const bridge = 'jnt-pods1';
    const pods = Array.from({ length: 20 }, (_, i) => `jnt-p${i}`);
    t.teardown(() => {
      for (const pod of pods) netnsRemove(`jailnet-${pod}`);
      linkRemove(bridge);
    });
    t.equal((await cli('network', 'create', 'jntmany', '--subnet', '10.246.1.0/24', '--bridge', bridge)).code, 0);
    const created = await Promise.all(pods.map((pod) => cli('--json', 'pod', 'create', pod, '--network', 'jntmany')));
    t.same(created.map((r) => r.code), pods.map(() => 0), created.map((r) => r.stderr).join(''));
    const addresses = created.map((r) => r.json?.interfaces?.[0]?.addresses?.[0]?.split('/')[0]);
    t.equal(new Set(addresses).size, 20, 'twenty distinct addresses');
    t.same(addresses.filter((a) => !ping(undefined, a)), [], 'the host reaches every pod');
    t.ok(ping('/run/netns/jailnet-jnt-p0', addresses[19]), 'the first pod reaches the last');
    const removed = await Promise.all(pods.map((pod) => cli('pod', 'rm', pod)));
    t.same(removed.map((r) => r.code), pods.map(() => 0), removed.map((r) => r.stderr).join(''));
    t.same(leftovers('jntmany', bridge), nothingLeft, 'nothing of the twenty pods is left');
    for (const address of addresses) t.notMatch(jailnetNft().text, new RegExp(`\\b${address.replace(/\./g, '\\.')}\\b`), `no nft entry for ${address}`);
    t.equal((await cli('network', 'rm', 'jntmany')).code, 0);
  });
}
