// The runtime network API (jailnet kata-network) on the simulated FreeBSD host: a tap and
// an epair plugged into a running pod with the contract's byte-exact answers, routes
// with the generation-1 fuzzy delete, a tap that was the host's given back, validation
// that changes nothing, pod rm after add-iface, and add-iface killed at every host
// command followed by gc or pod rm.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { crashAfter } from './helpers/crash.js';
import { contextLines, runtimeRequest, socketDir, startDaemonProcess } from './helpers/daemon.js';
import { podLab, type PodLab } from './helpers/pods.js';
import { JAILNET, run } from './helpers/run.js';
import { tool } from './helpers/sim.js';

t.setTimeout(900_000);

const TAP = { device: 'tap-test', name: 'eth-test', IPAddresses: [{ address: '172.16.0.3', mask: '16' }], hwAddr: '02:42:20:6f:a3:69', mtu: 1500 };
const EPAIR = { device: 'jnrt-host0', name: 'eth2', linkType: 'epair', IPAddresses: [{ address: '172.17.0.2', mask: '24' }], hwAddr: '02:42:20:6f:a3:70', mtu: 9000 };

async function inputFile(lab: PodLab, name: string, value: unknown): Promise<string> {
  const file = path.join(lab.dir, `${name}.json`);
  await fs.writeFile(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

async function kata(lab: PodLab, sub: string, id: string, input?: unknown) {
  const args = ['kata-network', sub, id];
  if (input !== undefined) args.push(await inputFile(lab, `${sub}-${Date.now()}`, input));
  return lab.jailnet(args);
}

const vnetOf = (lab: PodLab, jail: string) => lab.sim.state().jails.find((j) => j.name === jail)?.vnetId;

/** Every interface with what jailnet could change on it, every static route, and the pod records. */
async function snapshot(lab: PodLab) {
  const state = lab.sim.state();
  const ifaces = state.ifaces.map((i) => ({ name: i.name, vnet: i.vnet, cloner: i.cloner, up: i.up, mtu: i.mtu, mac: i.mac, inet: i.inet })).sort((a, b) => `${a.vnet}/${a.name}`.localeCompare(`${b.vnet}/${b.name}`));
  const routes = state.vnets.map((v) => [v.id, v.routes]);
  const podsDir = path.join(lab.stateDir, 'pods');
  const records = await Promise.all((await fs.readdir(podsDir).catch(() => [])).filter((f) => f.endsWith('.json')).sort().map((f) => fs.readFile(path.join(podsDir, f), 'utf8')));
  return { ifaces, routes, records };
}

async function podWithNetwork(lab: PodLab, pod: string, subnet: string) {
  const network = await lab.jailnet(['network', 'create', `n${pod}`, '--subnet', subnet]);
  if (network.code !== 0) throw new Error(network.stderr);
  const created = await lab.jailnet(['pod', 'create', pod, '--network', `n${pod}`]);
  if (created.code !== 0) throw new Error(created.stderr);
}

t.test('a tap and an epair plugged into a running pod, routes added and removed, pod rm leaves nothing', async (t) => {
  const lab = await podLab(t);
  const before = (await snapshot(lab)).ifaces;
  await podWithNetwork(lab, 'web', '10.89.0.0/24');
  const added = await kata(lab, 'add-iface', 'web', TAP);
  t.equal(added.code, 0, added.stderr);
  t.equal(added.stdout, '{"device":"tap-test","name":"eth-test","IPAddresses":[{"Family":2,"Address":"172.16.0.3","Mask":"16"}],"mtu":1500,"hwAddr":"02:42:20:6f:a3:69"}\n');
  const vnet = vnetOf(lab, 'jailnet-web');
  t.match(lab.sim.state().ifaces.find((i) => i.name === 'eth-test'), { vnet, cloner: 'tap', up: true, mtu: 1500, mac: '02:42:20:6f:a3:69', inet: [{ address: '172.16.0.3', prefix: 16 }] }, "the tap is in the pod's vnet, set from outside");
  t.notOk(lab.sim.state().ifaces.some((i) => i.name === 'tap-test'), 'no tap is left on the host under the device name');

  const pair = await kata(lab, 'add-iface', 'jailnet-we', EPAIR);
  t.equal(pair.code, 0, `a unique prefix of the container ID names the pod: ${pair.stderr}`);
  t.match(lab.sim.state().ifaces.find((i) => i.name === 'jnrt-host0'), { vnet: 'host', cloner: 'epair', mtu: 9000 }, "the epair's host end is the device");
  t.match(lab.sim.state().ifaces.find((i) => i.name === 'eth2'), { vnet, cloner: 'epair', mtu: 9000, mac: '02:42:20:6f:a3:70', inet: [{ address: '172.17.0.2', prefix: 24 }] });

  const list = await kata(lab, 'list-ifaces', 'web');
  t.equal(list.stdout, '[{"name":"eth-test","mac":"02:42:20:6f:a3:69","ip":["172.16.0.3/16"],"mtu":1500},{"name":"eth2","mac":"02:42:20:6f:a3:70","ip":["172.17.0.2/24"],"mtu":9000}]\n');
  const inspect = JSON.parse((await lab.jailnet(['pod', 'inspect', 'web'])).stdout);
  t.match(inspect.runtime.interfaces, [{ name: 'eth-test', device: 'tap-test' }, { name: 'eth2', device: 'jnrt-host0' }], 'pod inspect shows them');

  const viaGateway = await kata(lab, 'add-route', 'web', { dest: '10.1.0.0/24', gateway: '172.16.0.1', device: 'eth-test' });
  t.equal(viaGateway.stdout, '[{"dest":"10.1.0.0/24","gateway":"172.16.0.1","device":"eth-test"}]\n', viaGateway.stderr);
  const onLink = await kata(lab, 'add-route', 'web', { dest: '10.2.0.5', device: 'eth2' });
  t.equal(onLink.stdout, '[{"dest":"10.2.0.5/32","device":"eth2"}]\n', `a bare address is a /32: ${onLink.stderr}`);
  const second = await kata(lab, 'add-route', 'web', { dest: '10.3.0.0/16', gateway: '172.17.0.1', device: 'eth2' });
  t.equal(second.code, 0, second.stderr);
  const duplicate = await kata(lab, 'add-route', 'web', { dest: '10.1.0.0/24', gateway: '172.16.0.1', device: 'eth-test' });
  t.same([duplicate.code, duplicate.stdout], [1, 'null\n'], 'an exact duplicate is refused with null');
  t.match(duplicate.stderr, /already exists/);
  const routes = lab.sim.state().vnets.find((v) => v.id === vnet)!.routes;
  t.match(routes.map((r) => [r.destination, r.gateway, r.netif]), [['default', '10.89.0.1', 'eth0'], ['10.1.0.0/24', '172.16.0.1', 'eth-test'], ['10.2.0.5', 'eth2', 'eth2'], ['10.3.0.0/16', '172.17.0.1', 'eth2']], "the routes are in the pod's table");
  const listRun = await kata(lab, 'list-routes', 'web');
  t.equal(listRun.stderr, '');
  const listed = JSON.parse(listRun.stdout);
  t.match(listed, [{ dest: 'default', gateway: '10.89.0.1', device: 'eth0' }], 'list-routes reads the kernel table');
  t.ok(listed.some((r: { dest: string; device: string; gateway?: string }) => r.dest === '172.16.0.0/16' && r.device === 'eth-test' && r.gateway === undefined), 'the connected route of the new interface is listed');

  const byDest = await kata(lab, 'del-route', 'web', { dest: '10.1.0.0/24' });
  t.equal(byDest.stdout, '[{"dest":"10.1.0.0/24","gateway":"172.16.0.1","device":"eth-test"}]\n', `del-route by dest only: ${byDest.stderr}`);
  const missing = await kata(lab, 'del-route', 'web', { dest: '10.1.0.0/24' });
  t.same([missing.code, missing.stdout], [1, 'null\n']);
  t.match(missing.stderr, /route of device {2}with destination 10.1.0.0\/24 is not found/);
  t.notOk(lab.sim.state().vnets.find((v) => v.id === vnet)!.routes.some((r) => r.destination === '10.1.0.0/24'), 'the route is gone');

  const deleted = await kata(lab, 'del-iface', 'web', { name: 'eth-test' });
  t.same([deleted.code, deleted.stdout], [0, 'null\n'], deleted.stderr);
  t.notOk(lab.sim.state().ifaces.some((i) => i.name === 'eth-test' || i.name === 'tap-test'), 'the tap jailnet made is destroyed');
  t.equal((await kata(lab, 'del-iface', 'web', { name: 'eth-test' })).stdout, 'null\n', 'no match is no error, as upstream');

  const removed = await lab.jailnet(['pod', 'rm', 'web']);
  t.equal(removed.code, 0, removed.stderr);
  const noBridge = (ifaces: Awaited<ReturnType<typeof snapshot>>['ifaces']) => ifaces.filter((i) => i.cloner !== 'bridge');
  t.same(noBridge((await snapshot(lab)).ifaces), noBridge(before), "pod rm after add-iface leaves no interface but the network's bridge (the epair went with the pod)");
});

t.test("a tap that was the host's is lent and given back at del-iface and at pod rm", async (t) => {
  const lab = await podLab(t);
  t.equal((await tool(lab.sim, 'ifconfig', ['tap', 'create', 'name', 'jnrt-keep'])).code, 0);
  const before = (await snapshot(lab)).ifaces;
  await podWithNetwork(lab, 'web', '10.89.2.0/24');
  const lent = { ...TAP, device: 'jnrt-keep', name: 'eth3' };
  t.equal((await kata(lab, 'add-iface', 'web', lent)).code, 0);
  t.notOk(lab.sim.state().ifaces.some((i) => i.name === 'jnrt-keep'), 'the tap moved into the pod');
  t.equal((await kata(lab, 'del-iface', 'web', { name: 'eth3' })).code, 0);
  t.match(lab.sim.state().ifaces.find((i) => i.name === 'jnrt-keep'), { vnet: 'host', cloner: 'tap', inet: [] }, 'it is back on the host under its own name, without the address');
  const again = await kata(lab, 'add-iface', 'web', lent);
  t.equal(again.code, 0, again.stderr);
  t.equal((await lab.jailnet(['pod', 'rm', 'web'])).code, 0);
  t.match(lab.sim.state().ifaces.find((i) => i.name === 'jnrt-keep'), { vnet: 'host', inet: [] }, 'pod rm gives it back before the jail goes');
  t.same((await snapshot(lab)).ifaces.filter((i) => i.cloner !== 'bridge').map(({ mac: _, up: __, mtu: ___, ...rest }) => rest), before.map(({ mac: _, up: __, mtu: ___, ...rest }) => rest), 'nothing else is left; the tap keeps the MAC and MTU the pod gave it');
});

t.test('every refused input changes nothing: host state and records compared', async (t) => {
  const lab = await podLab(t);
  await podWithNetwork(lab, 'web', '10.89.3.0/24');
  t.equal((await kata(lab, 'add-iface', 'web', EPAIR)).code, 0);
  const before = await snapshot(lab);
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['a 16-character name', { name: 'abcdefghijklmnop' }, /must be 1 to 15 characters/],
    ['a name starting with a digit', { name: '0eth' }, /starts with a letter/],
    ['MTU 45', { mtu: 45 }, /invalid input of MTU : 45/],
    ['MTU 9601', { mtu: 9601 }, /invalid input of MTU : 9601/],
    ['MTU 60, below FreeBSD\'s IF_MINMTU', { mtu: 60 }, /FreeBSD's minimum is 72/],
    ['two addresses', { IPAddresses: [{ address: '172.16.0.3', mask: '16' }, { address: '172.16.0.4', mask: '16' }] }, /only one IP address/],
    ['a null address', { IPAddresses: [null] }, /is null/],
    ['a bad MAC', { hwAddr: 'zz:42:20:6f:a3:69' }, /invalid hwAddr/],
    ['a name the pod has', { name: 'eth0' }, /interface eth0 is already exist/],
    ['a name added before', { name: 'eth2', device: 'tap-x' }, /interface eth2 is already exist/],
    ['the host uplink as device', { device: 'vtnet0' }, /in use on the host/],
    ['a pair whose device exists', { linkType: 'epair', device: 'jnrt-host0', name: 'eth9' }, /already exists on the host/],
  ];
  for (const [what, over, message] of bad) {
    const result = await kata(lab, 'add-iface', 'web', { ...TAP, ...over });
    t.same([result.code, result.stdout], [1, 'null\n'], what);
    t.match(result.stderr, message, what);
  }
  const noFile = await lab.jailnet(['kata-network', 'add-iface', 'web', path.join(lab.dir, 'missing.json')]);
  t.same([noFile.code, noFile.stdout], [1, ''], 'a missing file is an early failure: nothing on stdout');
  t.match(noFile.stderr, /ENOENT|no such file/);
  const badJson = await kata(lab, 'add-iface', 'web', '{"name":');
  t.same([badJson.code, badJson.stdout], [1, ''], 'undecodable JSON is an early failure');
  const unknown = await kata(lab, 'add-iface', 'nosuch', TAP);
  t.same([unknown.code, unknown.stdout], [1, '']);
  t.match(unknown.stderr, /no such container ID \(nosuch\)/);
  t.same(await snapshot(lab), before, 'nothing changed on the host or in the records');

  await podWithNetwork(lab, 'web2', '10.89.4.0/24');
  const ambiguous = await kata(lab, 'list-ifaces', 'jailnet-we');
  t.match(ambiguous.stderr, /multiple containers found \(jailnet-we\)/);
  t.equal((await tool(lab.sim, 'jail', ['-r', 'jailnet-web2'])).code, 0);
  const beforeStopped = await snapshot(lab);
  const stopped = await kata(lab, 'add-iface', 'web2', TAP);
  t.same(await snapshot(lab), beforeStopped, 'a pod that is not running: nothing changed');
  t.same([stopped.code, stopped.stdout], [1, ''], 'a pod that is not running: an early failure');
  t.match(stopped.stderr, /container web2 is not running/);
});

t.test('add-iface killed after each host command, then gc or pod rm: nothing leaks', async (t) => {
  const lab = await podLab(t);
  await podWithNetwork(lab, 'web', '10.89.5.0/24');
  const before = await snapshot(lab);
  const file = await inputFile(lab, 'epair', EPAIR);
  const start = lab.sim.state().commandCount;
  t.equal((await lab.jailnet(['kata-network', 'add-iface', 'web', file])).code, 0);
  const commands = lab.sim.state().commandCount - start;
  t.equal((await lab.jailnet(['kata-network', 'del-iface', 'web', file])).code, 0);
  t.same(await snapshot(lab), before, 'del-iface undoes add-iface');
  for (const [kind, input] of [['epair', file], ['tap', await inputFile(lab, 'tap', TAP)]] as const) {
    for (let n = 1; n <= commands; n++) {
      const crash = await crashAfter(lab.sim, n, lab.launch(['kata-network', 'add-iface', 'web', input]));
      if (!crash.killedAfter) continue;
      const gc = await lab.jailnet(['gc']);
      t.equal(gc.code, 0, `gc after ${kind} add-iface was killed after "${crash.killedAfter}": ${gc.stderr}`);
      t.same(await snapshot(lab), before, `${kind}, killed after "${crash.killedAfter}", then gc: nothing left`);
    }
  }
  const crash = await crashAfter(lab.sim, commands - 1, lab.launch(['kata-network', 'add-iface', 'web', file]));
  t.ok(crash.killedAfter, 'killed once more');
  t.equal((await lab.jailnet(['pod', 'rm', 'web'])).code, 0);
  t.notOk(lab.sim.state().ifaces.some((i) => i.name === 'jnrt-host0' || i.name === 'eth2'), 'pod rm after a killed add-iface leaves nothing');
});

t.test('stdin input with -, and --json errors', async (t) => {
  const lab = await podLab(t);
  await podWithNetwork(lab, 'web', '10.89.6.0/24');
  const viaStdin = await run(process.execPath, [JAILNET, '--config', path.join(lab.dir, 'jailnet.conf'), 'kata-network', 'add-iface', 'web', '-'], lab.env, JSON.stringify(TAP));
  t.equal(viaStdin.code, 0, viaStdin.stderr);
  const refused = await lab.jailnet(['--json', 'kata-network', 'add-iface', 'web', await inputFile(lab, 'again', TAP)]);
  t.equal(refused.code, 1);
  t.match(JSON.parse(refused.stdout), { error: { msg: /already exist/ } }, '--json: one JSON error object, as elsewhere in the CLI');
});

t.test('concurrent add-iface on one pod: serialised under its lock, none lost', async (t) => {
  const lab = await podLab(t);
  await podWithNetwork(lab, 'web', '10.89.7.0/24');
  const inputs = await Promise.all(
    [1, 2, 3, 4, 5].map((n) => inputFile(lab, `c${n}`, { ...TAP, device: `jnrt-c${n}`, name: `eth${n + 10}`, hwAddr: `02:42:20:6f:a4:0${n}`, IPAddresses: [{ address: `172.16.${n}.2`, mask: '24' }] })),
  );
  const runs = await Promise.all(inputs.map((file) => lab.jailnet(['kata-network', 'add-iface', 'web', file])));
  t.same(runs.map((r) => r.code), [0, 0, 0, 0, 0], runs.map((r) => r.stderr).join(''));
  const listed = JSON.parse((await kata(lab, 'list-ifaces', 'web')).stdout) as Array<{ name: string }>;
  t.same(listed.map((i) => i.name).sort(), ['eth11', 'eth12', 'eth13', 'eth14', 'eth15'], 'every one recorded');
  const vnet = vnetOf(lab, 'jailnet-web');
  t.equal(lab.sim.state().ifaces.filter((i) => i.vnet === vnet && i.cloner === 'tap').length, 5, 'and in the pod');
});

t.test("jailnetd's socket serves the same requests, and refuses malformed ones", async (t) => {
  const lab = await podLab(t);
  await podWithNetwork(lab, 'web', '10.89.8.0/24');
  const socket = path.join(await socketDir(t), 'd.sock');
  await startDaemonProcess(t, lab.env, socket);
  const context = contextLines(lab.env);
  const call = (sub: string, id: string, input = '', head = context) => runtimeRequest(socket, `kata-network ${sub} ${id}`, input, lab.env, head);
  const added = await call('add-iface', 'web', JSON.stringify(TAP));
  t.same(added, { code: 0, stdout: '{"device":"tap-test","name":"eth-test","IPAddresses":[{"Family":2,"Address":"172.16.0.3","Mask":"16"}],"mtu":1500,"hwAddr":"02:42:20:6f:a3:69"}\n', stderr: '' }, 'the daemon answers as the CLI does');
  t.match(lab.sim.state().ifaces.find((i) => i.name === 'eth-test'), { vnet: vnetOf(lab, 'jailnet-web') });
  const again = await call('add-iface', 'web', JSON.stringify(TAP));
  t.match(again, { code: 1, stdout: 'null\n', stderr: /already exist/ }, 'a failure: null, the error on stderr');
  t.same(await call('list-ifaces', 'web'), { code: 0, stdout: '[{"name":"eth-test","mac":"02:42:20:6f:a3:69","ip":["172.16.0.3/16"],"mtu":1500}]\n', stderr: '' });
  t.match(await call('del-iface', 'nosuch', '{"name":"x"}'), { code: 1, stdout: '', stderr: /no such container ID/ });
  t.match(await call('add-iface', 'web', JSON.stringify(TAP), `JAILNET_CONFIG=/elsewhere.conf\n`), { raw: /^jailnetd\/1 fallback\nJAILNET_CONFIG differs/ }, 'another context is sent back');
  t.match(await call('rm-everything', 'web'), { raw: /^jailnetd\/1 refused\nno kata-network subcommand/ });
  t.match(await call('list-ifaces', '../web'), { raw: /^jailnetd\/1 refused\nnot a jailnetd\/1 request line/ }, 'an ID with a path is refused');
  t.match(await call('list-ifaces', 'web', '', `${context}CNI_COMMAND=ADD\n`), { raw: /^jailnetd\/1 refused\nunexpected environment line/ }, 'only context variables travel with it');
  t.match(await call('list-ifaces', 'web'), { code: 0 }, 'and the daemon keeps serving');
});
