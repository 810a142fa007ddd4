// jailnet's plugins on the Linux driver, for real: two network namespaces on a bridge
// through `jailnet cni`, packets between them, a published port reached from the host's
// address, from 127.0.0.1, from the other pod and from its own pod, and nothing left
// after DEL: no veth, no nft rule, no lease, no cache file.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { socketDir, startDaemonProcess, type DaemonProcess } from './helpers/daemon.js';
import { jailnet } from './helpers/run.js';
import { hostInterfaceName } from '../src/persistent-names.js';
import {
  fetchFrom,
  hostAddress,
  hostLinks,
  jailnetNft,
  linkRemove,
  linuxLab,
  missingPrerequisite,
  netnsAdd,
  netnsRemove,
  ping,
  serveHttp,
  sh,
} from './helpers/linux.js';

const missing = missingPrerequisite();
if (missing) {
  t.fail(`cannot run the Linux driver tests: ${missing}`);
} else {
  t.test('without jailnetd: every plugin call is a process of its own', async (t) =>
    suite(t, { NETWORK: 'plug', BRIDGE: 'jnt-plug0', SUBNET: '10.241.0', PORT: 18441, a: 'jnt-plug-a', b: 'jnt-plug-b', daemon: false }));
  t.test('with jailnetd: the calls are served by the daemon', async (t) =>
    suite(t, { NETWORK: 'plugd', BRIDGE: 'jnt-plugd0', SUBNET: '10.241.1', PORT: 18442, a: 'jnt-plugd-a', b: 'jnt-plugd-b', daemon: true }));
}

interface Pass {
  NETWORK: string;
  BRIDGE: string;
  SUBNET: string;
  PORT: number;
  a: string;
  b: string;
  daemon: boolean;
}

function suite(t: Test, pass: Pass): void {
  const { NETWORK, BRIDGE, SUBNET, PORT, a, b } = pass;
  const { conf, leases, state } = linuxLab('linux-plugins', NETWORK, BRIDGE, SUBNET);
  const env: Record<string, string> = {};
  const cli = (...args: string[]) => jailnet(['--config', conf, ...args], env);
  const ports = JSON.stringify({ portMappings: [{ hostPort: PORT, containerPort: 80, protocol: 'tcp' }] });

  if (pass.daemon) {
    t.before(async () => {
      const socket = path.join(await socketDir(t), 'd.sock');
      env.JAILNET_SOCKET = socket;
      daemon = await startDaemonProcess(t, { JAILNET_CONFIG: path.resolve(conf) }, socket, ['--log-level', 'info']);
    });
  }
  let daemon: DaemonProcess | undefined;
  /** A port with a lower MAC than any random one, that the bridge test adds (and removes). */
  const lowPort = `${BRIDGE.slice(0, 11)}-lo`;
  t.teardown(() => {
    netnsRemove(a);
    netnsRemove(b);
    linkRemove(lowPort);
    linkRemove(BRIDGE);
  });

  t.test('two pods on a bridge: ping, a published port from everywhere, CHECK, then DEL leaves nothing', async (t) => {
    const pathA = netnsAdd(a);
    const pathB = netnsAdd(b);
    const addA = await cli('cni', 'add', '--network', NETWORK, '--container-id', 'plug-a', '--netns', pathA, '--runtime-config', ports);
    t.equal(addA.code, 0, addA.stderr);
    const addB = await cli('cni', 'add', '--network', NETWORK, '--container-id', 'plug-b', '--netns', pathB);
    t.equal(addB.code, 0, addB.stderr);
    const ipA = addA.json.ips[0].address.split('/')[0];
    const ipB = addB.json.ips[0].address.split('/')[0];
    t.not(ipA, ipB, 'distinct addresses');
    t.equal(addA.json.interfaces[2].sandbox, pathA, 'the sandbox is the netns path');
    t.match(sh('nsenter', [`--net=${pathA}`, '--', 'ip', '-4', 'addr', 'show', 'eth0']).stdout, `${ipA}/24`, 'eth0 in the pod has the address');

    t.ok(ping(pathA, ipB), 'pod a pings pod b');
    t.ok(ping(pathB, ipA), 'pod b pings pod a');
    t.ok(ping(undefined, ipA), 'the host pings pod a');

    // Linux gives a bridge whose address was never set the lowest address of its ports
    // (net/bridge/br_stp_if.c, br_stp_recalculate_bridge_id), so a port with a lower MAC
    // joining would move the gateway's MAC under pods that have the old one cached: their
    // packets to the gateway (DNS to aardvark included) then go nowhere.
    const bridgeMac = () => sh('cat', [`/sys/class/net/${BRIDGE}/address`]).stdout.trim();
    const before = bridgeMac();
    t.equal(sh('cat', [`/sys/class/net/${BRIDGE}/addr_assign_type`]).stdout.trim(), '3', 'the bridge was given its address (NET_ADDR_SET)');
    t.ok(ping(pathA, `${SUBNET}.1`), 'pod a pings its gateway');
    const low = lowPort;
    linkRemove(low);
    sh('ip', ['link', 'add', low, 'address', '00:00:00:00:00:01', 'type', 'veth', 'peer', 'name', `${low}p`]);
    try {
      sh('ip', ['link', 'set', low, 'master', BRIDGE, 'up']);
      t.equal(bridgeMac(), before, 'a port with a lower MAC joined: the bridge keeps its address');
      t.ok(ping(pathA, `${SUBNET}.1`), 'and pod a still reaches its gateway');
    } finally {
      linkRemove(low);
    }

    serveHttp(pathA, 'hello from pod a\n');
    const host = hostAddress();
    const url = (address: string) => `http://${address}:${PORT}/`;
    t.same(fetchFrom(undefined, url(host)), { ok: true, body: 'hello from pod a\n' }, "from the host's address");
    t.same(fetchFrom(undefined, url('127.0.0.1')), { ok: true, body: 'hello from pod a\n' }, 'from 127.0.0.1');
    t.same(fetchFrom(pathB, url(host)), { ok: true, body: 'hello from pod a\n' }, 'from the other pod');
    t.same(fetchFrom(pathA, url(host)), { ok: true, body: 'hello from pod a\n' }, 'from its own pod (hairpin)');
    t.same(fetchFrom(pathA, url(`${SUBNET}.1`)), { ok: true, body: 'hello from pod a\n' }, "from its own pod through the gateway's address");

    const check = await cli('cni', 'check', '--network', NETWORK, '--container-id', 'plug-a', '--netns', pathA);
    t.equal(check.code, 0, `CHECK passes: ${check.stderr}`);
    t.match(jailnetNft().text, `dnat ip to ${ipA}:80`, 'the DNAT rule is in jailnet\'s table');

    for (const [id, netns] of [['plug-a', pathA], ['plug-b', pathB]] as const) {
      const del = await cli('cni', 'del', '--network', NETWORK, '--container-id', id, '--netns', netns);
      t.equal(del.code, 0, del.stderr);
    }
    t.same(
      hostLinks().filter((l) => l.master === BRIDGE || (l.ifalias ?? '').includes(`network ${NETWORK}`)),
      [],
      'no veth of the pods is left on the host',
    );
    const nft = jailnetNft();
    t.notMatch(nft.text, ipA, 'no nft rule or set entry names pod a');
    t.notMatch(nft.text, ipB, 'no nft rule or set entry names pod b');
    t.same(readdirSync(path.join(leases, NETWORK)).sort(), ['last_reserved_ip.0', 'lock'], 'no lease is left');
    t.same(readdirSync(path.join(state, 'cni', 'results')), [], 'no cache file is left');
    t.notOk(fetchFrom(undefined, url('127.0.0.1')).ok, 'the published port is gone');

    const again = await cli('cni', 'del', '--network', NETWORK, '--container-id', 'plug-a', '--netns', pathA);
    t.equal(again.code, 0, 'DEL again succeeds');
  });

  t.test("the result has each end's own MAC; a taken name is refused and leaves nothing", async (t) => {
    netnsRemove(a);
    netnsRemove(b);
    const pathA = netnsAdd(a);
    const podLink = () => JSON.parse(sh('nsenter', [`--net=${pathA}`, '--', 'ip', '-j', 'link', 'show', 'eth0']).stdout)[0] as { address: string };
    const add = await cli('--json', 'cni', 'add', '--network', NETWORK, '--container-id', 'plug-mac', '--netns', pathA);
    t.equal(add.code, 0, add.stderr);
    const [, hostEnd, podEnd] = add.json.interfaces as Array<{ name: string; mac: string }>;
    t.equal(podEnd!.mac, podLink().address, "the pod end's MAC is the one it has");
    t.equal(hostEnd!.mac, (hostLinks() as Array<{ ifname: string; address?: string }>).find((l) => l.ifname === hostEnd!.name)?.address, "the host end's MAC is the one it has");
    t.match(hostEnd!.mac, /^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/, 'a locally administered unicast address');

    const links = () => hostLinks().map((l) => l.ifname).sort();
    const leaseFiles = () => readdirSync(path.join(leases, NETWORK)).sort();
    const before = { links: links(), leases: leaseFiles() };
    const podTaken = await cli('--json', 'cni', 'add', '--network', NETWORK, '--container-id', 'plug-mac2', '--netns', pathA);
    t.equal(podTaken.json?.error?.code, 121, `eth0 is taken in the pod: ${podTaken.stdout}`);
    t.match(podTaken.json?.error?.msg, /container interface eth0 already exists/);
    t.same({ links: links(), leases: leaseFiles() }, before, 'no interface and no lease is left');
    t.equal(podLink().address, podEnd!.mac, "the pod's eth0 is untouched");

    const pathB = netnsAdd(b);
    // Another interface under the name this attachment's host end would have.
    const squatter = hostInterfaceName(NETWORK, 'plug-mac3', 'eth0');
    sh('ip', ['link', 'add', squatter, 'type', 'bridge']);
    t.teardown(() => sh('ip', ['link', 'del', squatter], { allowFailure: true }));
    const hostTaken = await cli('--json', 'cni', 'add', '--network', NETWORK, '--container-id', 'plug-mac3', '--netns', pathB, '--args', 'IgnoreUnknown=1;MAC=02:00:5e:10:00:01');
    t.equal(hostTaken.json?.error?.code, 122, `the host end's name is taken: ${hostTaken.stdout}`);
    t.ok(hostLinks().some((l) => l.ifname === squatter), 'the interface of that name is left alone');
    t.same({ links: links(), leases: leaseFiles() }, { ...before, links: [...before.links, squatter].sort() }, 'nothing else is left');
    sh('ip', ['link', 'del', squatter]);

    const asked = await cli('--json', 'cni', 'add', '--network', NETWORK, '--container-id', 'plug-mac3', '--netns', pathB, '--args', 'IgnoreUnknown=1;MAC=02:00:5e:10:00:01');
    t.equal(asked.code, 0, asked.stderr);
    t.equal(asked.json.interfaces[2].mac, '02:00:5e:10:00:01', 'a MAC asked for (CNI_ARGS) is the pod end\'s');
    t.match(sh('nsenter', [`--net=${pathB}`, '--', 'ip', 'link', 'show', 'eth0']).stdout, '02:00:5e:10:00:01');
    for (const [id, netns] of [['plug-mac', pathA], ['plug-mac3', pathB]] as const) {
      t.equal((await cli('cni', 'del', '--network', NETWORK, '--container-id', id, '--netns', netns)).code, 0);
    }
    netnsRemove(a);
    netnsRemove(b);
  });

  t.test('a netns held by a process (/proc/PID/ns/net, as buildah passes it) works', async (t) => {
    const holder = sh('sh', ['-c', 'unshare --net sleep 60 >/dev/null 2>&1 & echo $!']).stdout.trim();
    t.teardown(() => sh('kill', ['-KILL', holder], { allowFailure: true }));
    // unshare execs sleep after entering the new netns
    let netns = '';
    for (let i = 0; i < 50 && netns === ''; i++) {
      const candidate = `/proc/${holder}/ns/net`;
      if (existsSync(candidate) && sh('readlink', [candidate]).stdout !== sh('readlink', ['/proc/self/ns/net']).stdout) netns = candidate;
      else await new Promise((r) => setTimeout(r, 20));
    }
    t.not(netns, '', 'the holder has its own netns');
    const add = await cli('cni', 'add', '--network', NETWORK, '--container-id', 'plug-proc', '--netns', netns);
    t.equal(add.code, 0, add.stderr);
    t.equal(add.json.interfaces[2].sandbox, netns);
    t.ok(ping(netns, `${SUBNET}.1`), 'the process netns reaches the gateway');
    const del = await cli('cni', 'del', '--network', NETWORK, '--container-id', 'plug-proc', '--netns', netns);
    t.equal(del.code, 0, del.stderr);
    t.same(readdirSync(path.join(leases, NETWORK)).sort(), ['last_reserved_ip.0', 'lock'], 'no lease is left');
  });

  t.test('bad sandboxes are refused before anything changes', async (t) => {
    const before = hostLinks().map((l) => l.ifname).sort();
    const missingNs = await cli('cni', 'add', '--network', NETWORK, '--container-id', 'plug-x', '--netns', '/run/netns/jnt-does-not-exist');
    t.not(missingNs.code, 0);
    t.match(missingNs.stderr, /network namespace "\/run\/netns\/jnt-does-not-exist" not found/);
    for (const bad of ['../etc/passwd', '/run/netns/../x', '/run/netns/a b', '-n']) {
      const res = await cli('cni', 'add', '--network', NETWORK, '--container-id', 'plug-x', '--netns', bad);
      t.not(res.code, 0, `refused: ${bad}`);
      t.match(res.stderr, /CNI_NETNS must be a network namespace path or name/, bad);
    }
    t.same(hostLinks().map((l) => l.ifname).sort(), before, 'no interface appeared');
    t.same(readdirSync(path.join(leases, NETWORK)).sort(), ['last_reserved_ip.0', 'lock'], 'no lease was taken');
  });

  if (pass.daemon) {
    t.test('jailnetd served every plugin of the chain', async (t) => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const served = (daemon?.stderr() ?? '').split('\n').filter((line) => line.includes('"msg":"served"') && line.includes('"code":"0"'));
      for (const plugin of ['bridge', 'portmap', 'firewall', 'tuning']) {
        for (const command of ['ADD', 'CHECK', 'DEL']) {
          t.ok(served.some((line) => line.includes(`"plugin":"${plugin}"`) && line.includes(`"command":"${command}"`)), `${plugin} ${command}`);
        }
      }
    });
  }
}
