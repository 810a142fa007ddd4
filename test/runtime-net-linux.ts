// The runtime network API for real on the Linux driver: a running pod gets a second
// interface (veth, and tap) through kata-network add-iface, a container in the pod pings
// addresses behind it, a default route and a /24 via a gateway are added, del-route by
// dest removes the match, del-iface takes the interface away, and pod rm after add-iface
// leaves nothing. The far end of the veth lives in a namespace this test made.
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cliLab, hostLinks, linkRemove, missingPrerequisite, netnsAdd, netnsRemove, sh } from './helpers/linux.js';
import type { Run } from './helpers/run.js';

const missing = missingPrerequisite(['setpriv', 'hostname']);
if (missing) {
  t.fail(`cannot run the Linux runtime API tests: ${missing}`);
} else {
  const { dir, state, cli } = cliLab('runtime-net-linux');
  let inputs = 0;
  const kata = (sub: string, pod: string, input?: unknown): Promise<Run> => {
    const args = ['kata-network', sub, pod];
    if (input !== undefined) {
      const file = path.join(dir, `input-${inputs++}.json`);
      writeFileSync(file, JSON.stringify(input));
      args.push(file);
    }
    return cli(...args);
  };
  const POD = 'jnt-rt';
  const PEER = 'jnrt-peer';
  const podNetns = `jailnet-${POD}`;
  const linksIn = (netns: string) => JSON.parse(sh('ip', ['-j', '-n', netns, 'link', 'show']).stdout) as Array<{ ifname: string; mtu: number; address: string }>;
  const routesIn = (netns: string) => JSON.parse(sh('ip', ['-j', '-n', netns, '-4', 'route', 'show']).stdout) as Array<{ dst: string; gateway?: string; dev: string }>;
  const ourHostLinks = () => hostLinks().map((l) => l.ifname).filter((n) => n.startsWith('jnrt-'));

  t.teardown(() => {
    netnsRemove(`jailnet-${POD}`);
    netnsRemove(PEER);
    for (const link of ['jnrt-v0', 'jnrt-t0']) linkRemove(link);
  });

  t.test('a veth and a tap plugged into a running pod; pings, routes, del-iface, pod rm', async (t) => {
    const created = await cli('pod', 'create', POD, '--mode', 'none');
    t.equal(created.code, 0, created.stderr);
    t.equal((await cli('container', 'add', POD, 'c1', '--path', '/')).code, 0);
    const veth = { device: 'jnrt-v0', name: 'eth1', linkType: 'veth', IPAddresses: [{ address: '10.247.0.2', mask: '24' }], hwAddr: '02:42:0a:f7:00:02', mtu: 1400 };
    const added = await kata('add-iface', POD, veth);
    t.equal(added.stdout, '{"device":"jnrt-v0","name":"eth1","IPAddresses":[{"Family":2,"Address":"10.247.0.2","Mask":"24"}],"mtu":1400,"hwAddr":"02:42:0a:f7:00:02"}\n', added.stderr);
    t.match(linksIn(podNetns).find((l) => l.ifname === 'eth1'), { mtu: 1400, address: '02:42:0a:f7:00:02' }, "eth1 is in the pod's namespace with its MAC and MTU");
    t.same(ourHostLinks(), ['jnrt-v0'], "the veth's host end is the device");

    // Behind the interface: the far end in a namespace of the test's, with addresses beyond it.
    netnsAdd(PEER);
    sh('ip', ['link', 'set', 'jnrt-v0', 'netns', PEER]);
    sh('ip', ['-n', PEER, 'addr', 'add', '10.247.0.1/24', 'dev', 'jnrt-v0']);
    sh('ip', ['-n', PEER, 'link', 'set', 'jnrt-v0', 'up']);
    sh('ip', ['-n', PEER, 'link', 'set', 'lo', 'up']);
    for (const address of ['10.248.0.1/32', '10.249.0.1/32']) sh('ip', ['-n', PEER, 'addr', 'add', address, 'dev', 'lo']);
    const pingFromContainer = (address: string) => cli('container', 'exec', POD, 'c1', '--', 'busybox', 'ping', '-c', '1', '-W', '2', address);
    t.equal((await pingFromContainer('10.247.0.1')).code, 0, 'a container of the pod pings the far end of the new interface');
    t.not((await pingFromContainer('10.248.0.1')).code, 0, 'beyond it, nothing without a route');

    const defaultRoute = await kata('add-route', POD, { dest: 'default', gateway: '10.247.0.1', device: 'eth1' });
    t.equal(defaultRoute.stdout, '[{"dest":"default","gateway":"10.247.0.1","device":"eth1"}]\n', defaultRoute.stderr);
    t.equal((await pingFromContainer('10.248.0.1')).code, 0, 'the default route via the gateway works');
    const subnet = await kata('add-route', POD, { dest: '10.249.0.0/24', gateway: '10.247.0.1', device: 'eth1' });
    t.equal(subnet.code, 0, subnet.stderr);
    t.match(routesIn(podNetns), [{ dst: 'default', gateway: '10.247.0.1', dev: 'eth1' }], 'the routes are in the kernel');
    t.ok(routesIn(podNetns).some((r) => r.dst === '10.249.0.0/24' && r.gateway === '10.247.0.1'));
    const listed = JSON.parse((await kata('list-routes', POD)).stdout);
    t.same(listed, [
      { dest: 'default', gateway: '10.247.0.1', device: 'eth1' },
      { dest: '10.247.0.0/24', device: 'eth1' },
      { dest: '10.249.0.0/24', gateway: '10.247.0.1', device: 'eth1' },
    ], 'list-routes: the kernel table, its connected route included');

    const deleted = await kata('del-route', POD, { dest: '10.249.0.0/24' });
    t.equal(deleted.stdout, '[{"dest":"10.249.0.0/24","gateway":"10.247.0.1","device":"eth1"}]\n', deleted.stderr);
    t.notOk(routesIn(podNetns).some((r) => r.dst === '10.249.0.0/24'), 'del-route by dest only removed it');

    const tap = { device: 'jnrt-t0', name: 'eth2', IPAddresses: [{ address: '10.250.0.2', mask: '24' }], hwAddr: '02:42:0a:fa:00:02', mtu: 1500 };
    t.equal((await kata('add-iface', POD, tap)).code, 0);
    t.ok(linksIn(podNetns).some((l) => l.ifname === 'eth2'), 'the tap is in the pod');
    t.same(JSON.parse((await kata('list-ifaces', POD)).stdout).map((i: { name: string }) => i.name), ['eth1', 'eth2']);
    t.equal((await kata('del-iface', POD, { name: 'eth2' })).stdout, 'null\n');
    t.notOk(linksIn(podNetns).some((l) => l.ifname === 'eth2'), 'del-iface removed the tap');
    t.same(ourHostLinks(), [], 'and it is not on the host either');

    t.equal((await kata('del-iface', POD, { name: 'eth1' })).code, 0);
    t.notOk(linksIn(PEER).some((l) => l.ifname === 'jnrt-v0'), "the veth's far end went with it");
    t.equal((await kata('add-iface', POD, tap)).code, 0, 'a tap again, for pod rm to find');
    t.equal((await cli('pod', 'rm', '--force', POD)).code, 0);
    t.same(ourHostLinks(), [], 'pod rm after add-iface leaves no interface on the host');
    t.same(readdirSync('/run/netns').filter((n) => n === `jailnet-${POD}`), [], 'nor the namespace');
    t.same(readdirSync(path.join(state, 'pods')).filter((n) => n.endsWith('.json')), [], 'nor the record');
  });
}
