// jailnet's FreeBSD plugins as podman drives them: podman's default network conflist
// run through `jailnet cni add|del` against vnet jails on the simulated FreeBSD host.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { snapshotDir } from './helpers/leases.js';
import { comparable, PODMAN_PF_CONF, podHost, podmanDefaultNetwork } from './helpers/podnet.js';
import { tool } from './helpers/sim.js';

// Twelve scenarios of whole CNI chains on the simulator: about two minutes on a loaded
// two-core machine, past tap's default.
t.setTimeout(600_000);

const PUBLISH = ['--runtime-config', JSON.stringify({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] })];
const ID_A = 'a'.repeat(64);
const ID_B = 'b'.repeat(64);

t.test("podman's default network: two pods, a published port, and a clean teardown", async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  await h.jail('pod-b');
  const list = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const before = h.sim.state();

  const addA = await h.add(list, ID_A, 'pod-a', ['--args', 'IgnoreUnknown=1;K8S_POD_NAME=web', ...PUBLISH]);
  t.equal(addA.code, 0, addA.stderr);
  const addB = await h.add(list, ID_B, 'pod-b', ['--args', 'IgnoreUnknown=1;K8S_POD_NAME=db']);
  t.equal(addB.code, 0, addB.stderr);
  t.match(addA.json, {
    cniVersion: '0.4.0',
    interfaces: [{ name: 'cni-podman0' }, { name: /^jn[0-9a-f]{12}$/ }, { name: 'eth0', sandbox: 'pod-a' }],
    ips: [{ version: '4', interface: 2, address: '10.88.0.2/16', gateway: '10.88.0.1' }],
    routes: [{ dst: '0.0.0.0/0', gw: '10.88.0.1' }],
  });
  t.equal(addB.json.ips[0].address, '10.88.0.3/16');
  t.notOk(/filter_local/.test(addA.stderr), 'no filter_local warning when it is set');

  const state = h.sim.state();
  const hostEnd = state.ifaces.find((i) => i.name === addA.json.interfaces[1].name);
  t.match(hostEnd, { vnet: 'host', description: 'jailnet: pod pod-a ifname eth0 network podman', up: true });
  t.ok(hostEnd?.memberOf, 'the host end is a bridge member');
  t.equal(addA.json.interfaces[1].mac, hostEnd?.mac, "the result's host-end address is the interface's");
  const podEnds = state.ifaces.filter((i) => i.vnet !== 'host' && i.name === 'eth0').map((i) => i.mac).sort();
  t.same([addA.json.interfaces[2].mac, addB.json.interfaces[2].mac].sort(), podEnds, "the results' pod-end addresses are the interfaces'");
  t.equal(addA.json.interfaces[0].mac, state.ifaces.find((i) => i.name === 'cni-podman0')?.mac, "and the bridge's");
  t.same(state.vnets[0]?.pf.tables[':cni-nat']?.addresses, ['10.88.0.2', '10.88.0.3'], 'ipMasq: both pods are in <cni-nat>');

  const reach = (from: string, to: string, port: number) => h.sim.reach({ from, to, port });
  t.match(reach('pod-a', '10.88.0.3', 5432), { delivered: true, jails: ['pod-b'] }, 'pod a reaches pod b');
  t.match(reach('pod-b', '10.88.0.2', 80), { delivered: true, jails: ['pod-a'] }, 'pod b reaches pod a');
  t.match(reach('external', '192.0.2.10', 8080), { delivered: true, jails: ['pod-a'], address: '10.88.0.2', port: 80 }, 'published port from another host');
  t.match(reach('host', '192.0.2.10', 8080), { delivered: true, jails: ['pod-a'], port: 80 }, 'from the host, to its own address');
  t.match(reach('host', '127.0.0.1', 8080), { delivered: true, jails: ['pod-a'], port: 80 }, 'from the host, to localhost');
  t.match(reach('pod-a', '192.0.2.10', 8080), { delivered: true, jails: ['pod-a'], port: 80 }, 'from the pod itself (hairpin)');
  t.match(reach('pod-b', '192.0.2.10', 8080), { delivered: true, jails: ['pod-a'], port: 80 }, 'from another pod');
  const anchor = await tool(h.sim, 'pfctl', ['-a', `cni-rdr/${ID_A.slice(0, 32)}-eth0`, '-s', 'nat']);
  // pfctl prints ports by their /etc/services names (80/tcp is http); jailnet reads with -P.
  t.match(anchor.stdout, /^nat on cni-podman0 inet proto tcp from \(lo0\) to 10\.88\.0\.2 port = http -> \(cni-podman0\) round-robin$/m, 'localhost replies come back through NAT');
  t.match(anchor.stdout, /^nat on cni-podman0 inet proto tcp from 10\.88\.0\.0\/16 to 10\.88\.0\.2 port = http -> \(cni-podman0\) round-robin$/m, 'hairpin and pod-to-pod replies too');

  const check = await h.cli(['cni', 'check', '--conflist', list, '--container-id', ID_A, '--netns', 'pod-a', ...PUBLISH]);
  t.equal(check.code, 0, `CHECK passes: ${check.stderr}`);

  const delA = await h.del(list, ID_A, 'pod-a', PUBLISH);
  t.equal(delA.code, 0, delA.stderr);
  const delB = await h.del(list, ID_B, 'pod-b');
  t.equal(delB.code, 0, delB.stderr);
  t.same(comparable(h.sim.state(), ['cni-podman0']), comparable(before), 'after DEL of both, the host is as before, apart from the bridge');
  t.match(h.sim.state().ifaces.find((i) => i.name === 'cni-podman0'), { inet: [{ address: '10.88.0.1', prefix: 16 }] }, 'the bridge stays');
  t.same(Object.keys(await snapshotDir(path.join(h.leaseDir, 'podman'))), ['last_reserved_ip.0', 'lock'], 'no lease is left');
  t.same(await fs.readdir(h.cacheDir), [], 'no cache entry is left');
  t.same((await fs.readdir(path.join(h.recordsDir, 'bridge'))).filter((n) => n.endsWith('.json')), [], 'no attachment record is left');

  const again = await h.del(list, ID_A, 'pod-a');
  t.equal(again.code, 0, 'DEL again succeeds');
});

t.test('one container on two networks with the same published port; a pf reload, then podman network reload (DEL and ADD)', async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  const first = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const other = podmanDefaultNetwork(h.leaseDir, { bridge: 'cni-podman1', ipam: { type: 'host-local', dataDir: h.leaseDir, routes: [{ dst: '0.0.0.0/0' }], ranges: [[{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }]] } });
  const second = await h.writeList('second', { ...other, name: 'second' });
  const reach = () => h.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 });
  const addressOf = (run: { json: { ips: Array<{ address: string }> } }) => run.json.ips[0]?.address.split('/')[0];
  const add = async (list: string, extra: string[] = []) => {
    const run = await h.add(list, ID_A, 'pod-a', [...extra, ...PUBLISH]);
    t.equal(run.code, 0, `ADD: ${run.stderr}`);
    return addressOf(run);
  };
  const onFirst = await add(first);
  // podman network connect: the first network's default route is there already, and its port published.
  const onSecond = await add(second, ['--ifname', 'eth1']);
  t.match(reach(), { delivered: true, jails: ['pod-a'], address: onFirst }, 'the port reaches the container through the first network');
  t.equal((await h.del(first, ID_A, 'pod-a', PUBLISH)).code, 0, 'the first network leaves');
  t.match(reach(), { delivered: true, jails: ['pod-a'], address: onSecond }, 'the port is handed to the second network');
  const again = await add(first);
  t.equal((await h.del(second, ID_A, 'pod-a', ['--ifname', 'eth1', ...PUBLISH])).code, 0, 'the second network leaves');
  t.match(reach(), { delivered: true, jails: ['pod-a'], address: again });

  // The admin reloads pf.conf (which declares <cni-nat> empty) and flushes the anchor.
  t.equal((await tool(h.sim, 'pfctl', ['-f', '-'], PODMAN_PF_CONF)).code, 0, 'pfctl -f pf.conf');
  t.equal((await tool(h.sim, 'pfctl', ['-a', `cni-rdr/${ID_A.slice(0, 32)}-eth0`, '-F', 'all'])).code, 0);
  t.notMatch(reach(), { jails: ['pod-a'] }, 'the port is cut');
  t.same(h.sim.state().vnets[0]?.pf.tables[':cni-nat']?.addresses, [], '<cni-nat> is empty');
  // podman network reload: a DEL, then an ADD.
  t.equal((await h.del(first, ID_A, 'pod-a', PUBLISH)).code, 0, 'DEL');
  const reloaded = await add(first);
  t.match(reach(), { delivered: true, jails: ['pod-a'], address: reloaded }, 'the port answers again');
  t.same(h.sim.state().vnets[0]?.pf.tables[':cni-nat']?.addresses, [reloaded], 'and the container is masqueraded again');
  t.equal((await h.del(first, ID_A, 'pod-a', PUBLISH)).code, 0);
});

t.test('one container on three networks: the published port passes from each leaving network to one that stays', async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  const networkOn = async (name: string, index: number) =>
    h.writeList(name, { ...podmanDefaultNetwork(h.leaseDir, { bridge: `cni-podman${index}`, ipam: { type: 'host-local', dataDir: h.leaseDir, routes: [{ dst: '0.0.0.0/0' }], ranges: [[{ subnet: `10.${88 + index}.0.0/24`, gateway: `10.${88 + index}.0.1` }]] } }), name });
  const lists = [await h.writeList('podman', podmanDefaultNetwork(h.leaseDir)), await networkOn('second', 1), await networkOn('third', 2)];
  const reach = () => h.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 });
  const addresses: Array<string | undefined> = [];
  for (const [index, list] of lists.entries()) {
    const run = await h.add(list, ID_A, 'pod-a', ['--ifname', `eth${index}`, ...PUBLISH]);
    t.equal(run.code, 0, `ADD ${list}: ${run.stderr}`);
    addresses.push((run.json as { ips: Array<{ address: string }> }).ips[0]?.address.split('/')[0]);
  }
  t.match(reach(), { delivered: true, address: addresses[0] }, 'the first network serves the port');
  // The first leaves: one sibling takes the port, the other now shares it with that one.
  t.equal((await h.del(lists[0] as string, ID_A, 'pod-a', ['--ifname', 'eth0', ...PUBLISH])).code, 0);
  const taker = reach() as { delivered: boolean; address?: string };
  t.ok(taker.delivered && [addresses[1], addresses[2]].includes(taker.address), `a remaining network took it: ${JSON.stringify(taker)}`);
  // The taker leaves: the last one must get the port, which only the taker's record can tell it.
  const takerIndex = addresses.indexOf(taker.address);
  t.equal((await h.del(lists[takerIndex] as string, ID_A, 'pod-a', ['--ifname', `eth${takerIndex}`, ...PUBLISH])).code, 0);
  const last = 3 - takerIndex;
  t.match(reach(), { delivered: true, address: addresses[last] }, 'the last network serves it');
  t.equal((await h.del(lists[last] as string, ID_A, 'pod-a', ['--ifname', `eth${last}`, ...PUBLISH])).code, 0);
  t.same((reach() as { jails: string[] }).jails, [], 'and with it gone, no jail gets it');
});

t.test("a tuned sysctl changed inside the pod: status names it, repair sets it again, DEL and gc forget it", async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  const base = podmanDefaultNetwork(h.leaseDir);
  const tuned = await h.writeList('tuned', { ...base, plugins: base.plugins.map((p) => (p.type === 'tuning' ? { ...p, sysctl: { 'net.inet.ip.forwarding': '1' } } : p)) });
  t.equal((await h.add(tuned, ID_A, 'pod-a')).code, 0);
  const inPod = () => h.sim.state().vnets.find((v) => v.id !== 'host')?.sysctls['net.inet.ip.forwarding'];
  t.equal(inPod(), '1');
  t.equal((await tool(h.sim, 'jexec', ['pod-a', 'sysctl', 'net.inet.ip.forwarding=0'])).code, 0, 'someone inside the pod turns it off');
  const status = await h.cli(['status']);
  t.equal(status.code, 1);
  t.match(status.stdout, /^FAIL {2}pod pod-a: sysctl net\.inet\.ip\.forwarding is 0, tuned to 1 — fix: jailnet repair pod-a$/m, 'status names it');
  const repaired = await h.cli(['repair']);
  t.equal(repaired.code, 0, repaired.stderr);
  t.match(repaired.stdout, /^fixed pod pod-a: sysctl net\.inet\.ip\.forwarding is 0, tuned to 1$/m);
  t.equal(inPod(), '1', 'set again in the pod');
  t.equal((await h.cli(['repair'])).stdout.trim(), 'nothing to repair', 'a second repair: nothing');
  t.equal((await h.del(tuned, ID_A, 'pod-a')).code, 0);
  t.same(await fs.readdir(path.join(h.recordsDir, 'tuning')), [], 'DEL forgot the record');
  t.equal((await h.cli(['repair'])).stdout.trim(), 'nothing to repair', 'and nothing is asked of the pod any more');
  // A crash took the jail: gc finds the attachment (by its records) and DELs it, which forgets the tuning record.
  t.equal((await h.add(tuned, ID_A, 'pod-a')).code, 0);
  t.equal((await tool(h.sim, 'jail', ['-r', 'pod-a'])).code, 0);
  const gc = await h.cli(['gc']);
  t.equal(gc.code, 0, gc.stderr);
  t.same(await fs.readdir(path.join(h.recordsDir, 'tuning')), [], 'gc forgot it with the attachment');
});

t.test('DEL without prevResult and after the jail is gone', async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  const list = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const before = h.sim.state();
  t.equal((await h.add(list, ID_A, 'pod-a', PUBLISH)).code, 0);
  await fs.rm(h.cacheDir, { recursive: true });
  await tool(h.sim, 'jail', ['-r', 'pod-a']);
  const del = await h.del(list, ID_A, '', PUBLISH);
  t.equal(del.code, 0, del.stderr);
  const after = comparable(h.sim.state(), ['cni-podman0']);
  t.same(after.interfaces, comparable(before).interfaces.filter((i) => i.vnet === 'host'), 'no epair end is left, not even the one that came back');
  t.same(h.sim.state().vnets[0]?.pf.tables[':cni-nat']?.addresses, [], '<cni-nat> is empty again');
  t.same(Object.keys(await snapshotDir(path.join(h.leaseDir, 'podman'))), ['last_reserved_ip.0', 'lock']);
});

t.test('published ports: conflicts, hostIP, and the filter_local warning', async (t) => {
  const h = await podHost(t, { filterLocal: false });
  await h.jail('pod-a');
  await h.jail('pod-b');
  const list = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const first = await h.add(list, ID_A, 'pod-a', PUBLISH);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stderr, /net\.pf\.filter_local is not 1.*sysctl net\.pf\.filter_local=1/, 'the filter_local requirement is reported');
  const taken = await h.add(list, ID_B, 'pod-b', PUBLISH);
  t.equal(taken.code, 1);
  t.match(taken.stderr, /host port 8080\/tcp is already published/);
  const cleanup = await h.del(list, ID_B, 'pod-b', PUBLISH);
  t.equal(cleanup.code, 0, 'podman runs DEL after a failed ADD; it succeeds');
  const podB = h.sim.state().jails.find((j) => j.name === 'pod-b')!.vnetId;
  t.same(h.sim.state().ifaces.filter((i) => i.vnet === podB).map((i) => i.name), ['lo0'], 'and leaves nothing in pod-b');
  t.same(h.sim.state().vnets.find((v) => v.id === podB)?.routes, [], 'not even its default route');
  const other = await h.add(list, ID_B, 'pod-b', ['--runtime-config', JSON.stringify({ portMappings: [{ hostPort: 9090, containerPort: 90, protocol: 'udp', hostIP: '192.0.2.10' }] })]);
  t.equal(other.code, 0, other.stderr);
  t.match(h.sim.reach({ from: 'external', to: '192.0.2.10', port: 9090, proto: 'udp' }), { jails: ['pod-b'], port: 90 });
  t.match(h.sim.reach({ from: 'external', to: '192.0.2.10', port: 9090, proto: 'tcp' }), { vnet: 'host' }, 'only the published protocol');
});

t.test('firewall same-bridge keeps other jailnet networks out', async (t) => {
  const h = await podHost(t);
  for (const j of ['iso-1', 'open-1', 'other-1']) await h.jail(j);
  const isolated = await h.writeList('iso', {
    ...podmanDefaultNetwork(h.leaseDir),
    name: 'iso',
    plugins: podmanDefaultNetwork(h.leaseDir, { bridge: 'cni-podman1', ipam: { type: 'host-local', dataDir: h.leaseDir, routes: [{ dst: '0.0.0.0/0' }], ranges: [[{ subnet: '10.89.0.0/24' }]] } }).plugins.map((p) =>
      p.type === 'firewall' ? { ...p, ingressPolicy: 'same-bridge' } : p,
    ),
  });
  const open = await h.writeList('open', {
    ...podmanDefaultNetwork(h.leaseDir, { bridge: 'cni-podman2', ipam: { type: 'host-local', dataDir: h.leaseDir, routes: [{ dst: '0.0.0.0/0' }], ranges: [[{ subnet: '10.90.0.0/24' }]] } }),
    name: 'open',
  });
  t.equal((await h.add(isolated, 'c1', 'iso-1')).code, 0);
  t.equal((await h.add(open, 'c2', 'open-1')).code, 0);
  t.equal((await h.add(open, 'c3', 'other-1', PUBLISH)).code, 0);
  t.match(h.sim.reach({ from: 'open-1', to: '10.89.0.2', port: 80 }), { delivered: false, reason: /blocked by pf/ }, 'a pod of another network is blocked');
  t.match(h.sim.reach({ from: 'iso-1', to: '10.90.0.2', port: 80 }), { delivered: true }, 'the isolated pod still reaches out');
  t.match(h.sim.reach({ from: 'external', to: '10.89.0.2', port: 80 }), { delivered: true }, 'other hosts are not jailnet pods');
  t.match(h.sim.reach({ from: 'open-1', to: '10.90.0.3', port: 80 }), { delivered: true }, 'open networks stay open');
  t.equal((await h.del(isolated, 'c1', 'iso-1')).code, 0);
  const anchor = await tool(h.sim, 'pfctl', ['-a', 'jailnet-fw', '-s', 'rules']);
  t.equal(anchor.stderr, 'pfctl: DIOCGETRULES: Invalid argument\n', 'the isolation anchor is gone with the last isolated pod');
});

t.test('loopback, tuning and refused fields', async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  const lo = await h.writeList('lo', { cniVersion: '1.0.0', name: 'lo', plugins: [{ type: 'loopback' }] });
  const up = await h.add(lo, 'c1', 'pod-a', ['--ifname', 'lo0']);
  t.equal(up.code, 0, up.stderr);
  t.same(up.json.ips, [{ interface: 0, address: '127.0.0.1/8' }, { interface: 0, address: '::1/128' }]);
  t.match(h.sim.state().ifaces.find((i) => i.vnet !== 'host' && i.name === 'lo0'), { up: true, inet: [{ address: '127.0.0.1', prefix: 8 }] });

  const base = podmanDefaultNetwork(h.leaseDir);
  const tuned = await h.writeList('tuned', {
    ...base,
    plugins: base.plugins.map((p) => (p.type === 'tuning' ? { ...p, mtu: 1400, mac: '02:00:00:aa:bb:cc', sysctl: { 'net.inet.ip.forwarding': '1' } } : p)),
  });
  const add = await h.add(tuned, 'c2', 'pod-a');
  t.equal(add.code, 0, add.stderr);
  t.equal(add.json.interfaces[2].mac, '02:00:00:aa:bb:cc', 'the result reports the new MAC');
  t.match(h.sim.state().ifaces.find((i) => i.vnet !== 'host' && i.name === 'eth0'), { mtu: 1400, mac: '02:00:00:aa:bb:cc' });
  t.equal(h.sim.state().vnets.find((v) => v.id !== 'host')?.sysctls['net.inet.ip.forwarding'], '1', 'the sysctl was set inside the pod');
  t.equal((await h.del(tuned, 'c2', 'pod-a')).code, 0);

  // The bridge's own `mac` (CNI_ARGS MAC=, as podman's --mac-address sends it): `ether` is an
  // address family in ifconfig, set after the rest of its line, so it is a command of its own.
  const plain = await h.writeList('bridged', { ...base, name: 'bridged', plugins: base.plugins.filter((p) => p.type === 'bridge') });
  const start = h.sim.log().length;
  const withMac = await h.add(plain, 'c3', 'pod-a', ['--args', 'IgnoreUnknown=1;MAC=02:00:00:11:22:33']);
  t.equal(withMac.code, 0, withMac.stderr);
  t.equal(withMac.json.interfaces[2].mac, '02:00:00:11:22:33');
  t.match(h.sim.state().ifaces.find((i) => i.vnet !== 'host' && i.name === 'eth0'), { mac: '02:00:00:11:22:33' });
  const commands = h.sim.log().slice(start).map((e) => e.argv.join(' '));
  t.ok(commands.some((c) => /^ifconfig epair\d+b ether 02:00:00:11:22:33$/.test(c)), 'set on the jail end before it moves');
  t.equal((await h.del(plain, 'c3', 'pod-a')).code, 0);

  const refusals: Array<[string, Record<string, unknown>, string, number]> = [
    ['tuning', { sysctl: { 'kern.securelevel': '1' } }, 'sysctl "kern.securelevel" is refused', 7],
    ['tuning', { allmulti: true }, 'unsupported field "allmulti"', 2],
    ['bridge', { vlan: 100 }, 'unsupported field "vlan": 100', 2],
    ['bridge', { macspoofchk: true }, 'unsupported field "macspoofchk": true', 2],
    ['portmap', { markMasqBit: 13 }, 'unsupported field "markMasqBit"', 2],
  ];
  for (const [type, extra, message, code] of refusals) {
    const list = await h.writeList(`bad-${type}`, { ...base, plugins: base.plugins.map((p) => (p.type === type ? { ...p, ...extra } : p)) });
    const result = await h.cli(['--json', 'cni', 'add', '--conflist', list, '--container-id', 'c3', '--netns', 'pod-a', ...PUBLISH]);
    t.equal(result.json?.error?.code, code, `${type} ${JSON.stringify(extra)} → code ${code}`);
    t.match(result.json?.error?.msg, message);
    await h.del(list, 'c3', 'pod-a', PUBLISH);
  }
  t.same(h.sim.state().ifaces.filter((i) => i.vnet !== 'host').map((i) => i.name), ['lo0'], 'nothing was left in the pod');
});

t.test('dual stack, forceAddress, isDefaultGateway and a failing CHECK', async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  await tool(h.sim, 'ifconfig', ['bridge', 'create', 'name', 'br6']);
  await tool(h.sim, 'ifconfig', ['br6', 'inet', '10.50.0.254/24']);
  const conf = {
    cniVersion: '1.0.0',
    name: 'dual',
    plugins: [
      {
        type: 'bridge',
        bridge: 'br6',
        isGateway: true,
        isDefaultGateway: true,
        promiscMode: true,
        mtu: 1400,
        ipam: { type: 'host-local', dataDir: h.leaseDir, ranges: [[{ subnet: '10.50.0.0/24' }], [{ subnet: 'fd50::/64' }]] },
      },
    ],
  };
  const refused = await h.add(await h.writeList('dual', conf), 'c1', 'pod-a');
  t.equal(refused.code, 1);
  t.match(refused.stderr, /bridge br6 already has address 10\.50\.0\.254\/24.*set forceAddress/);
  t.same(h.sim.state().ifaces.find((i) => i.name === 'br6')?.inet, [{ address: '10.50.0.254', prefix: 24 }], 'the refused ADD changed nothing');
  await h.del(await h.writeList('dual', conf), 'c1', 'pod-a');

  conf.plugins[0] = { ...conf.plugins[0]!, forceAddress: true } as (typeof conf.plugins)[0];
  const list = await h.writeList('dual', conf);
  const add = await h.add(list, 'c1', 'pod-a');
  t.equal(add.code, 0, add.stderr);
  t.same(add.json.ips.map((ip: { address: string }) => ip.address), ['10.50.0.3/24', 'fd50::3/64'], 'round-robin moved past the lease the refused ADD gave back');
  t.same(add.json.routes, [{ dst: '0.0.0.0/0', gw: '10.50.0.1' }, { dst: '::/0', gw: 'fd50::1' }], 'isDefaultGateway adds both default routes');
  const state = h.sim.state();
  const br = state.ifaces.find((i) => i.name === 'br6')!;
  t.same(br.inet, [{ address: '10.50.0.1', prefix: 24 }], 'forceAddress replaced the old IPv4 address');
  t.ok(br.inet6.some((a) => a.address === 'fd50::1' && a.prefix === 64), 'the IPv6 gateway is on the bridge');
  t.equal(br.promisc, true, 'promiscMode');
  const pod = state.jails.find((j) => j.name === 'pod-a')!.vnetId;
  const eth0 = state.ifaces.find((i) => i.vnet === pod && i.name === 'eth0')!;
  t.equal(eth0.mtu, 1400);
  t.ok(eth0.inet6.some((a) => a.address === 'fd50::3'));
  t.same(state.vnets.find((v) => v.id === pod)?.routes.map((r) => `${r.destination} ${r.gateway}`), ['default 10.50.0.1', 'default fd50::1']);
  t.equal(state.vnets[0]?.sysctls['net.inet6.ip6.forwarding'], '1', 'IPv6 forwarding was enabled');
  t.match(h.sim.reach({ from: 'pod-a', to: 'fd50::1', port: 22 }), { delivered: true, vnet: 'host' });

  t.equal((await h.cli(['cni', 'check', '--conflist', list, '--container-id', 'c1', '--netns', 'pod-a'])).code, 0);
  await tool(h.sim, 'ifconfig', ['-j', 'pod-a', 'eth0', 'inet', '10.50.0.3', '-alias']);
  const check = await h.cli(['cni', 'check', '--conflist', list, '--container-id', 'c1', '--netns', 'pod-a']);
  t.equal(check.code, 1);
  t.match(check.stderr, /address 10\.50\.0\.3\/24 is missing on eth0 in pod-a/, 'CHECK notices a removed address');
  t.equal((await h.del(list, 'c1', 'pod-a')).code, 0);
});

t.test('CNI_NETNS must be a jail name before any host command', async (t) => {
  const h = await podHost(t);
  const list = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const start = h.sim.log().length;
  for (const netns of ['-u root', '/run/netns/x', 'a b', 'pod;id', '..', '.pod']) {
    const result = await h.cli(['--json', 'cni', 'add', '--conflist', list, '--container-id', 'c1', '--netns', netns]);
    t.equal(result.json?.error?.code, 4, `${JSON.stringify(netns)} is refused with code 4`);
    await h.del(list, 'c1', '');
  }
  t.same(h.sim.log().slice(start).filter((e) => e.argv.some((a) => /-u root|a b|pod;id/.test(a))), [], 'no such text reached a host command');
  t.same(h.sim.log().slice(start).filter((e) => e.argv[0] === 'jexec' || e.argv.includes('-j')), [], 'nothing ran in a jail');
});

t.test('an ipam.type that is a path is refused, never run', async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  const base = podmanDefaultNetwork(h.leaseDir);
  const plugins = base.plugins.map((p) => (p.type === 'bridge' ? { ...p, ipam: { ...(p as { ipam: object }).ipam, type: '../../../../bin/true' } } : p));
  const list = await h.writeList('badipam', { ...base, plugins });
  const result = await h.cli(['--json', 'cni', 'add', '--conflist', list, '--container-id', 'c1', '--netns', 'pod-a']);
  t.equal(result.json?.error?.code, 7);
  t.match(result.json?.error?.msg, /invalid plugin type "\.\.\/\.\.\/\.\.\/\.\.\/bin\/true"/);
  await h.del(list, 'c1', 'pod-a');
});

t.test('a taken interface name, or no pf for ipMasq: a clear error, and everything undone', async (t) => {
  const h = await podHost(t);
  await h.jail('pod-a');
  const list = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  // An eth0 the pod already has, made as an admin would.
  await tool(h.sim, 'ifconfig', ['epair', 'create']);
  await tool(h.sim, 'ifconfig', ['epair0b', 'vnet', 'pod-a']);
  await tool(h.sim, 'ifconfig', ['-j', 'pod-a', 'epair0b', 'name', 'eth0']);
  const before = comparable(h.sim.state());
  const taken = await h.cli(['--json', 'cni', 'add', '--conflist', list, '--container-id', ID_A, '--netns', 'pod-a', ...PUBLISH]);
  t.equal(taken.json?.error?.code, 121, `refused as an interface that exists: ${taken.stdout}`);
  t.match(taken.json?.error?.msg, /container interface eth0 already exists in jail pod-a/);
  const after = comparable(h.sim.state());
  t.same(after.interfaces, before.interfaces, 'no epair, no bridge is left; the pod keeps its own eth0');
  t.same(after.vnets.map((v) => v.pf), before.vnets.map((v) => v.pf), 'no pf table entry or anchor is left');
  t.same(Object.keys(await snapshotDir(path.join(h.leaseDir, 'podman'))).filter((f) => /^\d/.test(f)), [], 'no lease is left');

  await tool(h.sim, 'ifconfig', ['-j', 'pod-a', 'eth0', 'destroy']);
  await h.sim.mutate((s) => {
    s.modules = s.modules.filter((m) => m !== 'pf');
  });
  const bare = comparable(h.sim.state());
  const noPf = await h.cli(['--json', 'cni', 'add', '--conflist', list, '--container-id', ID_A, '--netns', 'pod-a']);
  t.equal(noPf.json?.error?.code, 120, `refused as a host that is not ready: ${noPf.stdout}`);
  t.match(noPf.json?.error?.msg, /packet filter must be available for ipMasq/);
  t.same(comparable(h.sim.state()).interfaces, bare.interfaces, 'no epair, no bridge is left');
  t.same(Object.keys(await snapshotDir(path.join(h.leaseDir, 'podman'))).filter((f) => /^\d/.test(f)), [], 'no lease is left');
});
