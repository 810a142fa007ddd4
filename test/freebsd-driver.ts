// The FreeBSD driver, unchanged, against the simulator: the argv it runs (from the
// simulator's command log) and the state it leaves, operation by operation.
import t from 'tap';
import { createExecDoor } from '../src/hosts/exec.js';
import { sortedForwards } from '../src/hosts/packet-filter.js';
import { ChangePlan } from '../src/util/change-plan.js';
import { FreeBSDHost } from '../src/hosts/freebsd/driver.js';
import { newSim, tool } from './helpers/sim.js';
import type { Simulator } from './freebsd-sim/src/index.js';

function driverFor(sim: Simulator, planning = false) {
  // The CA bundle variable makes each simulated tool start ~140 ms slower.
  const { NODE_EXTRA_CA_CERTS: _slow, ...env } = process.env;
  const door = createExecDoor({ toolPath: sim.env.JAILNET_TOOL_PATH, env: { ...env, ...sim.env }, plan: new ChangePlan(planning) });
  return { host: new FreeBSDHost(door), door };
}

/** The argv run on the host (what the driver itself ran) since the last call. */
function logCursor(sim: Simulator) {
  let seen = 0;
  return () => {
    const entries = sim.log().slice(seen);
    seen += entries.length;
    return entries.filter((e) => e.context === 'host').map((e) => e.argv.join(' '));
  };
}

const ifaceIn = (sim: Simulator, vnet: string, name: string) => sim.state().ifaces.find((i) => i.vnet === vnet && i.name === name);

t.test('a pod network, built and torn down through the driver', async (t) => {
  const sim = await newSim(t, { dyingMs: 2000 });
  const { host } = driverFor(sim);
  const since = logCursor(sim);

  const pod = await host.createVnetJail('pod', { childrenMax: 4 });
  t.match(pod, { jid: 1, name: 'pod', path: '/', vnet: 'new', dying: false });
  t.same(since(), [
    'jail -c name=pod path=/ vnet persist children.max=4 host.hostname=pod',
    'jls -j pod -h -q jid name parent path host.hostname vnet dying',
  ]);

  await host.addAddress('lo0', '127.0.0.1/8', 'pod');
  await host.setUp('lo0', true, 'pod');
  t.same(since(), ['ifconfig -j pod lo0 inet 127.0.0.1/8 alias', 'ifconfig -j pod lo0 up']);
  t.same(ifaceIn(sim, 'jail1', 'lo0')?.inet, [{ address: '127.0.0.1', prefix: 8 }]);

  const bridge = await host.createBridge('cni-podman0');
  t.equal(bridge, 'cni-podman0');
  t.same(since(), ['ifconfig bridge create name cni-podman0'], 'one command: a crash cannot leave an unnamed bridge');
  await t.rejects(host.createBridge('cni-podman0'), /SIOCSIFNAME \(set name\): File exists/, 'a taken bridge name fails');
  t.same(since(), ['ifconfig bridge create name cni-podman0', 'ifconfig bridge1 destroy'], 'and the leftover bridge1 is destroyed');
  t.notOk(ifaceIn(sim, 'host', 'bridge1'));

  await host.addAddress('cni-podman0', '10.88.0.1/16');
  const { a, b } = await host.createEpair({ description: 'jailnet pod eth0' });
  t.same({ a, b }, { a: 'epair0a', b: 'epair0b' });
  await host.setMtu(a, 1500);
  await host.setMtu(b, 1500);
  await host.addBridgeMember(bridge, a);
  await host.setUp(a, true);
  await host.moveToVnet(b, 'pod');
  await host.renameInterface(b, 'eth0', 'pod');
  await host.setMac('eth0', '02:aa:bb:cc:dd:01', 'pod');
  await host.addAddress('eth0', '10.88.0.5/16', 'pod');
  await host.addAddress('eth0', 'fd88::5/64', 'pod');
  await host.addRoute('default', '10.88.0.1', 'pod');
  t.same(since(), [
    'ifconfig cni-podman0 inet 10.88.0.1/16 alias',
    'ifconfig epair create description jailnet pod eth0',
    'ifconfig epair0a mtu 1500',
    'ifconfig epair0b mtu 1500',
    'ifconfig cni-podman0 addm epair0a',
    'ifconfig epair0a up',
    'ifconfig epair0b vnet pod',
    'ifconfig -j pod epair0b name eth0',
    'ifconfig -j pod eth0 ether 02:aa:bb:cc:dd:01',
    'ifconfig -j pod eth0 inet 10.88.0.5/16 alias',
    'ifconfig -j pod eth0 inet6 fd88::5/64 alias',
    'route -j pod -n -4 add default 10.88.0.1',
  ]);

  const eth0 = await host.inspectInterface('eth0', 'pod');
  t.match(eth0, { name: 'eth0', up: true, mtu: 1500, mac: '02:aa:bb:cc:dd:01', inet: [{ address: '10.88.0.5', prefixLength: 16 }] });
  t.same(eth0?.inet6.filter((a) => !a.address.startsWith('fe80')), [{ address: 'fd88::5', prefixLength: 64 }]);
  t.equal(await host.inspectInterface('nope0', 'pod'), undefined, 'a missing interface reads as undefined');
  const br = await host.inspectInterface('cni-podman0');
  t.same(br?.members, ['epair0a']);
  t.same(await host.listInterfaces('pod'), ['lo0', 'eth0']);
  const routes = await host.listRoutes('pod');
  t.match(routes.find((r) => r.destination === 'default'), { family: 4, gateway: '10.88.0.1', flags: 'UGS', netif: 'eth0' });
  t.ok(sim.reach({ from: 'host', to: '10.88.0.5', port: 80 }).delivered, 'the host reaches the pod');

  since();
  const child = await host.createChildJail('pod.c1', { path: '/' });
  t.match(child, { name: 'pod.c1', parent: 1, vnet: 'inherit' });
  t.match(since()[0], /^jail -c name=pod\.c1 path=\/ ip4=inherit ip6=inherit persist host\.hostname=c1$/);
  t.same((await host.listJails()).map((j) => j.name), ['pod', 'pod.c1']);

  await host.removeJail('pod');
  t.same((await host.listJails({ dying: true })).map((j) => [j.name, j.dying]), [['pod', true], ['pod.c1', true]], 'removed jails are dying');
  t.same(await host.listJails(), [], 'and hidden without -d');
  since();
  await host.waitJailGone('pod', 5000);
  t.ok(since().filter((l) => l.startsWith('jls -d -j pod')).length >= 2, 'the driver polled jls -d until the jail was gone');
  t.ok(ifaceIn(sim, 'host', 'eth0'), 'the moved-in epair end came back to the host with its name');
  await host.destroyInterface('eth0');
  t.notOk(ifaceIn(sim, 'host', 'epair0a'), 'destroying one end destroyed both');
});

t.test('the packet filter, sysctl and modules through the driver', async (t) => {
  const sim = await newSim(t);
  const { host } = driverFor(sim);
  const since = logCursor(sim);
  const owner = { containerId: 'ctr1', ifname: 'eth0' };
  const forward = { protocol: 'tcp' as const, hostPort: 8080, podAddress: '10.88.0.5', podPort: 80 };
  t.same(await host.filter.publishedPorts(owner), [], 'an anchor never loaded reads as no forwards');
  await host.filter.publishPorts({ owner, forwards: [forward, { ...forward, protocol: 'udp', hostIP: '192.0.2.1' }] });
  t.same(since(), ['pfctl -P -a cni-rdr/ctr1-eth0 -s nat', 'pfctl -a cni-rdr/ctr1-eth0 -f -', 'sysctl -n net.pf.filter_local'], 'one load of the attachment\'s anchor');
  t.same(sortedForwards(await host.filter.publishedPorts(owner)), sortedForwards([forward, { ...forward, protocol: 'udp', hostIP: '192.0.2.1' }]), 'the forwards read back as data');
  await sim.mutate((s) => {
    s.vnets[0]!.pf.states.push({ proto: 'tcp', src: '192.0.2.9:5555', dst: '10.88.0.5:80' }, { proto: 'tcp', src: '192.0.2.9:5556', dst: '10.88.0.8:80' });
  });
  since();
  await host.filter.unpublishPorts(owner, ['10.88.0.5']);
  t.same(since(), ['pfctl -a cni-rdr/ctr1-eth0 -F nat -k 0.0.0.0/0 -k 10.88.0.5'], 'the flush and the end of the flows to the pod: one pfctl');
  t.same(sim.state().vnets[0]!.pf.states.map((st) => st.dst), ['10.88.0.8:80'], 'only the flows to the pod ended');
  t.same(await host.filter.publishedPorts(owner), [], 'the forwards are gone');
  await host.filter.unpublishPorts(owner, []);
  t.pass('unpublishing what is not published is no error');
  await host.filter.masquerade(['10.88.0.5', '10.88.0.6']);
  t.equal(await host.filter.unmasquerade(['10.88.0.6', '10.88.0.9']), 1, 'only what was masqueraded is removed, and said so');
  t.same(await host.filter.masqueraded(), ['10.88.0.5']);
  await host.filter.setIsolation({ podSubnets: ['10.1.0.0/24', '10.2.0.0/24'], isolated: ['10.1.0.0/24'] });
  t.same(await host.filter.isolatedSubnets(), ['10.1.0.0/24']);
  await host.filter.setIsolation({ podSubnets: [], isolated: [] });
  t.same(await host.filter.isolatedSubnets(), [], 'an empty policy removes the isolation rules');
  await sim.mutate((s) => {
    s.vnets[0]!.pf.states.push({ proto: 'tcp', src: '192.0.2.9:5555', dst: '10.88.0.7:80' });
  });
  t.equal(await host.filter.killFlowsTo('10.88.0.7'), 1);

  await host.createVnetJail('pod');
  await host.sysctlSet('net.inet.ip.forwarding', '1', 'pod');
  t.equal(await host.sysctlGet('net.inet.ip.forwarding', 'pod'), '1');
  t.equal(await host.sysctlGet('net.inet.ip.forwarding'), '0', 'the host keeps its own value');
  const jexecs = since().filter((l) => l.startsWith('jexec'));
  t.match(jexecs[0], /^jexec pod \S+\/sysctl net\.inet\.ip\.forwarding=1$/, 'sysctl has no -j: jexec with the host tool');

  t.equal(await host.isModuleLoaded('pf'), true);
  t.equal(await host.isModuleLoaded('if_vxlan'), false);
  await host.loadModule('if_vxlan');
  t.equal(await host.isModuleLoaded('if_vxlan'), true);
  await host.loadModule('if_vxlan');
  t.pass('loading a loaded module again is fine (kldload -n)');
});

t.test('a release without -j: the driver falls back to jexec and remembers', async (t) => {
  const sim = await newSim(t, { release: '13.2-RELEASE' });
  const { host } = driverFor(sim);
  await host.createVnetJail('pod');
  const since = logCursor(sim);
  since();
  await host.setUp('lo0', true, 'pod');
  await host.addRoute('127.0.0.2/32', '127.0.0.1', 'pod').catch(() => undefined);
  const lines = since();
  t.equal(lines[0], 'ifconfig -j pod lo0 up', 'first -j is tried');
  t.match(lines[1], /^jexec pod \S+\/ifconfig lo0 up$/, 'then jexec with the host tool');
  t.match(lines[2], /^jexec pod \S+\/route -n -4 add -net 127\.0\.0\.2\/32 127\.0\.0\.1$/, 'and -j is not tried again');
  t.equal(sim.state().ifaces.find((i) => i.vnet === 'jail1' && i.name === 'lo0')?.up, true);
  t.match(sim.log().find((e) => e.context === 'jail:1'), { argv: ['ifconfig', 'lo0', 'up'], exitCode: 0 }, 'the tool ran inside the jail');
});

t.test('plan mode records every change and runs only reads', async (t) => {
  const sim = await newSim(t);
  const { host, door } = driverFor(sim, true);
  const before = sim.state();
  await host.createVnetJail('pod', { childrenMax: 2 });
  const { a } = await host.createEpair();
  await host.moveToVnet(a.replace(/a$/, 'b'), 'pod');
  await host.addRoute('default', '10.88.0.1', 'pod');
  await host.filter.publishPorts({ owner: { containerId: 'x', ifname: 'eth0' }, forwards: [{ protocol: 'tcp', hostPort: 1, podAddress: '10.0.0.1', podPort: 1 }] });
  t.same(
    door.changes.steps.map((s) => (s.kind === 'host' ? s.argv : s)),
    [
      ['jail', '-c', 'name=pod', 'path=/', 'vnet', 'persist', 'children.max=2', 'host.hostname=pod'],
      ['ifconfig', 'epair', 'create'],
      ['ifconfig', 'epair?b', 'vnet', 'pod'],
      ['route', '-j', 'pod', '-n', '-4', 'add', 'default', '10.88.0.1'],
      ['pfctl', '-a', 'cni-rdr/x-eth0', '-f', '-'],
    ],
  );
  t.same(sim.log().map((e) => e.argv.join(' ')), ['sysctl -n net.pf.filter_local'], 'the simulator saw no command that changes anything, only the read of publishPorts');
  const since = logCursor(sim);
  since();
  t.same(await host.listInterfaces(), ['lo0', 'vtnet0'], 'a read runs for real and sees the host as it is');
  t.equal(await host.sysctlGet('net.inet.ip.forwarding'), '0');
  t.same(since().map((l) => l.split(' ')[0]), ['ifconfig', 'sysctl'], 'only the reads reached the simulator');
  t.same(sim.state().jails, before.jails);
  t.same(sim.state().ifaces, before.ifaces);
});

t.test('host-wide facts: forwarding and filter_local are read once per process, never recorded from a plan', async (t) => {
  const sim = await newSim(t);
  const since = logCursor(sim);
  const planned = driverFor(sim, true).host;
  await planned.enableForwarding(4);
  t.same(since(), ['sysctl -n net.inet.ip.forwarding'], 'a plan reads');
  await planned.enableForwarding(4);
  t.same(since(), ['sysctl -n net.inet.ip.forwarding'], 'and reads again: what it planned has not happened');

  await driverFor(sim).host.enableForwarding(4);
  t.same(since(), ['sysctl -n net.inet.ip.forwarding', 'sysctl net.inet.ip.forwarding=1'], 'the first call reads and sets');
  await driverFor(sim).host.enableForwarding(4);
  t.same(since(), [], 'a later call in the same process, with a driver of its own, neither reads nor sets');
  await driverFor(sim).host.enableForwarding(6);
  t.same(since(), ['sysctl -n net.inet6.ip6.forwarding', 'sysctl net.inet6.ip6.forwarding=1'], 'each family is a fact of its own');

  const owner = { containerId: 'ctr1', ifname: 'eth0' };
  const publication = { owner, forwards: [{ protocol: 'tcp' as const, hostPort: 8080, podAddress: '10.88.0.5', podPort: 80 }] };
  t.equal((await driverFor(sim).host.filter.publishPorts(publication)).length, 1, 'filter_local 0: the warning');
  t.equal((await driverFor(sim).host.filter.publishPorts(publication)).length, 1, 'still 0: read again, the warning again');
  await tool(sim, 'sysctl', ['net.pf.filter_local=1']);
  since();
  t.same(await driverFor(sim).host.filter.publishPorts(publication), [], 'once set, no warning');
  t.same(since(), ['pfctl -a cni-rdr/ctr1-eth0 -f -', 'sysctl -n net.pf.filter_local']);
  t.same(await driverFor(sim).host.filter.publishPorts(publication), []);
  t.same(since(), ['pfctl -a cni-rdr/ctr1-eth0 -f -'], 'and not read again');
});
