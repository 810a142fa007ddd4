// jailnet's netavark executable on the simulated FreeBSD host, driven with the JSON podman 6
// sends (array form, the container ID as the jail name): a container with a published port,
// a second one on two networks, network connect and disconnect, teardown of everything; the
// contract's error paths through the process; setup killed after each host command, then
// teardown; the jail gone before teardown; teardown twice.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { crashAfter } from './helpers/crash.js';
import { NETAVARK, netavark, networkOptions, type NetworkSpec } from './helpers/netavark.js';
import { comparable, hostView, podHost, type PodHost } from './helpers/podnet.js';
import { run } from './helpers/run.js';
import { setup, tool } from './helpers/sim.js';

t.setTimeout(900_000);

const A = 'a1'.repeat(32);
const B = 'b2'.repeat(32);
const WEB: NetworkSpec = { name: 'web', bridge: 'podman1', subnets: [{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }] };
const BACK: NetworkSpec = { name: 'back', bridge: 'podman2', subnets: [{ subnet: '10.90.0.0/24', gateway: '10.90.0.1' }], options: { isolate: 'true' } };
const THIRD: NetworkSpec = { name: 'third', bridge: 'podman3', internal: true, subnets: [{ subnet: '10.91.0.0/24', gateway: '10.91.0.1' }] };

/** podman's global options as libnetwork writes them, with the network run directory. */
const globals = (h: PodHost) => ['--config', path.join(h.dir, 'networks-run'), '--rootless=false', '--aardvark-binary='];
const call = (h: PodHost, command: string, ns: string, input: unknown) => netavark([...globals(h), command, ns], h.env, JSON.stringify(input));

const hostState = (h: PodHost) => hostView(h.sim.state());

async function leftovers(h: PodHost): Promise<string[]> {
  const found: string[] = [];
  for (const dir of [path.join(h.recordsDir, 'bridge'), path.join(h.recordsDir, 'portmap'), path.join(h.recordsDir, 'firewall'), path.join(h.cacheDir)]) {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    found.push(...names.filter((n) => n.endsWith('.json') || dir === h.cacheDir).map((n) => path.join(path.basename(dir), n)));
  }
  return found;
}

t.test('podman 6 on FreeBSD: setup, two networks, connect and disconnect, teardown', async (t) => {
  const h = await podHost(t);
  const before = hostState(h);
  await h.jail(A);
  await h.jail(B);
  const withJails = hostState(h);

  const a = networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.89.0.2'] }], [{ container_port: 80, host_port: 8080 }]);
  const setA = await call(h, 'setup', A, a);
  t.equal(setA.code, 0, setA.stdout);
  t.equal(setA.stderr, '', 'nothing on stderr at the default level');
  t.match(setA.stdout, /^\{"web":\{.*\}\}\n$/, 'one compact JSON document and a newline');
  t.match(setA.json, { web: { dns_search_domains: [], dns_server_ips: [], interfaces: { eth0: { mac_address: /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, subnets: [{ ipnet: '10.89.0.2/24', gateway: '10.89.0.1' }] } } } });
  const state = h.sim.state();
  const jailA = state.jails.find((j) => j.name === A);
  const inA = (name: string) => state.ifaces.find((i) => i.vnet === jailA?.vnetId && i.name === name);
  t.match(state.ifaces.find((i) => i.name === 'podman1'), { vnet: 'host', up: true, inet: [{ address: '10.89.0.1', prefix: 24 }] }, 'the bridge with the gateway');
  t.match(inA('eth0'), { up: true, inet: [{ address: '10.89.0.2', prefix: 24 }], mac: setA.json.web.interfaces.eth0.mac_address }, "the jail's eth0, as the answer says");
  t.match(inA('lo0'), { up: true, inet: [{ address: '127.0.0.1' }] }, 'lo0 up with 127.0.0.1 (podman 6 no longer does it)');
  t.match(state.vnets.find((v) => v.id === jailA?.vnetId)?.routes, [{ destination: 'default', gateway: '10.89.0.1' }], 'the default route');
  t.same(state.vnets[0]?.pf.tables[':cni-nat']?.addresses, ['10.89.0.2'], 'masqueraded');
  t.match(h.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 }), { delivered: true, jails: [A], port: 80 }, 'published port from another host');
  t.match(h.sim.reach({ from: 'host', to: '192.0.2.10', port: 8080 }), { delivered: true, jails: [A] }, 'from the host itself');

  const b = networkOptions(B, 'ctr-b', [{ network: WEB, ips: ['10.89.0.3'] }, { network: BACK, ips: ['10.90.0.3'], mac: '02:00:00:00:be:ef' }]);
  const setB = await call(h, 'setup', B, b);
  t.equal(setB.code, 0, setB.stdout);
  t.same(Object.keys(setB.json), ['web', 'back'], 'one key per network');
  t.equal(setB.json.back.interfaces.eth1.mac_address, '02:00:00:00:be:ef', 'static_mac');
  const jailB = h.sim.state().jails.find((j) => j.name === B);
  t.match(h.sim.state().vnets.find((v) => v.id === jailB?.vnetId)?.routes, [{ destination: 'default', gateway: '10.89.0.1' }], 'the first network gives the default route');
  t.match(h.sim.reach({ from: B, to: '192.0.2.10', port: 8080 }), { delivered: true, jails: [A] }, 'from another container');
  t.match(h.sim.reach({ from: A, to: '10.89.0.3', port: 5432 }), { delivered: true, jails: [B] }, 'a to b on web');

  const third = networkOptions(B, 'ctr-b', [{ network: THIRD, ips: ['10.91.0.3'] }]);
  const [entry] = third.networks as Array<{ interface_name: string }>;
  entry!.interface_name = 'eth2';
  const connect = await call(h, 'setup', B, third);
  t.equal(connect.code, 0, `network connect: ${connect.stdout}`);
  t.ok(h.sim.state().ifaces.some((i) => i.vnet === jailB?.vnetId && i.name === 'eth2'), 'eth2 joined');
  const disconnect = await call(h, 'teardown', B, third);
  t.equal(disconnect.code, 0, disconnect.stdout);
  t.equal(disconnect.stdout, '', 'teardown prints nothing');
  const afterDisconnect = h.sim.state();
  t.notOk(afterDisconnect.ifaces.some((i) => i.name === 'eth2' || i.name === 'podman3'), 'eth2 and its bridge are gone');
  t.ok(afterDisconnect.ifaces.some((i) => i.vnet === jailB?.vnetId && i.name === 'eth1'), 'the other networks stay');

  for (const [id, input] of [[A, a], [B, b]] as const) {
    const down = await call(h, 'teardown', id, input);
    t.equal(down.code, 0, down.stdout);
  }
  t.same(hostState(h), withJails, 'after teardown of both: the host as before, bridges removed as netavark removes them');
  t.same(await leftovers(h), [], 'no record or cache entry left');
  t.equal((await call(h, 'teardown', A, a)).code, 0, 'teardown twice succeeds');

  t.equal((await call(h, 'setup', A, a)).code, 0, 'setup again');
  await setup(h.sim, [['jail', '-r', A]]);
  const gone = await call(h, 'teardown', A, a);
  t.equal(gone.code, 0, `teardown with the jail gone: ${gone.stdout}`);
  await setup(h.sim, [['jail', '-r', B]]);
  t.same(hostState(h), before, 'the host side cleaned even though the jail was gone');
  t.same(h.sim.log().filter((e) => e.exitCode !== 0 && !/^(ifconfig|jls)$/.test(path.basename(e.argv[0] ?? ''))).map((e) => e.argv.join(' ')), [], 'no command failed but the reads that look for what is gone');
  const anchors = await tool(h.sim, 'pfctl', ['-a', 'cni-rdr', '-s', 'Anchors']);
  t.equal(anchors.stdout.trim(), '', 'no rdr anchor left');
});

t.test('the map form (podman 4/5) and the contract error paths through the process', async (t) => {
  const h = await podHost(t);
  await h.jail(A);
  const before = hostState(h);
  const map = networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.89.0.2'] }], [], 'map');
  const viaFile = path.join(h.dir, 'options.json');
  await fs.writeFile(viaFile, JSON.stringify(map));
  const set = await netavark(['-f', viaFile, '--config', path.join(h.dir, 'run'), 'setup', A], h.env);
  t.equal(set.code, 0, `the map form, read with -f: ${set.stdout}`);
  t.equal((await netavark(['--config', path.join(h.dir, 'run'), 'teardown', A], h.env, JSON.stringify(map))).code, 0);
  t.same(hostState(h), before);

  const errors: Array<[string, string[], unknown, RegExp]> = [
    ['malformed JSON', [...globals(h), 'setup', A], '{"container_id":', /^failed to load network options: /],
    ['a missing field', [...globals(h), 'setup', A], { container_name: 'x', networks: [], network_info: {} }, /missing field `container_id`/],
    ['a network missing from network_info', [...globals(h), 'setup', A], { ...map, network_info: {} }, /no network_info for network web/],
    ['a jail that does not exist', [...globals(h), 'setup', 'nosuchjail'], map, /^invalid namespace path: jail nosuchjail does not exist or has no network stack of its own$/],
    ['a namespace that is a path', [...globals(h), 'setup', '/run/netns/x'], map, /^invalid namespace path: /],
    ['no --config', ['setup', A], map, /^--config not specified but required for netavark setup$/],
    ['rootless', [...globals(h).slice(0, 2), '--rootless=true', 'setup', A], map, /rootless networking is not supported/],
    ['an unknown firewall driver', [...globals(h), '--firewall-driver', 'ebtables', 'setup', A], map, /^Must provide a valid firewall backend, got ebtables$/],
    ['create without its input', [...globals(h), 'create'], {}, /^failed to load network create input: missing field `network`/],
    ['dhcp-proxy', ['dhcp-proxy'], {}, /no DHCP proxy/],
  ];
  for (const [what, argv, input, message] of errors) {
    const r = await netavark(argv, h.env, typeof input === 'string' ? input : JSON.stringify(input));
    t.equal(r.code, 1, `${what}: exit 1`);
    t.same(Object.keys(r.json ?? {}), ['error'], `${what}: stdout is exactly {"error": …}`);
    t.match(r.json?.error, message, what);
    t.equal(r.stdout.split('\n').length, 2, `${what}: one line`);
  }
  t.same(hostState(h), before, 'no failed call changed the host');

  const usage = await netavark(['--config'], h.env);
  t.equal(usage.code, 2, 'a usage error exits 2');
  t.equal(usage.stdout, '', 'with nothing on stdout');
  t.match(usage.stderr, /a value is required for '--config'/);
  const version = await netavark(['--version'], h.env);
  t.match(version, { code: 0, stdout: /^netavark \d+\.\d+\.\d+\n$/ });
  t.match((await netavark(['version'], h.env)).json, { version: /^\d+\.\d+\.\d+$/, backend: 'jailnet' });
  const update = await netavark([...globals(h), 'update', 'web', '--network-dns-servers', ''], h.env, 'null\n');
  t.match(update, { code: 0, stdout: '' }, 'update with an empty list and no aardvark file: nothing to do');
  const fw = await netavark([...globals(h), 'setup', A], { ...h.env, NETAVARK_FW: 'none' }, JSON.stringify(networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.89.0.2'] }], [{ container_port: 80, host_port: 8080 }])));
  t.equal(fw.code, 0, fw.stdout);
  t.same(h.sim.state().vnets[0]?.pf.tables[':cni-nat']?.addresses ?? [], [], 'NETAVARK_FW=none: no NAT');
  t.notSame(h.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 }).jails, [A], 'and no published port');
  t.equal((await netavark([...globals(h), 'teardown', A], h.env, JSON.stringify(map))).code, 0);
  t.same(hostState(h), before);
});

t.test('setup killed after each host command, then teardown: nothing left', async (t) => {
  const h = await podHost(t);
  await h.jail(A);
  const input = JSON.stringify(networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.89.0.2'] }], [{ container_port: 80, host_port: 8080 }]));
  // Once before, so that what a first setup ever does once (the firewall's first look) is done.
  t.equal((await netavark([...globals(h), 'setup', A], h.env, input)).code, 0);
  t.equal((await netavark([...globals(h), 'teardown', A], h.env, input)).code, 0);
  const initial = hostState(h);
  const start = h.sim.state().commandCount;
  t.equal((await netavark([...globals(h), 'setup', A], h.env, input)).code, 0);
  const commands = h.sim.state().commandCount - start;
  t.equal((await netavark([...globals(h), 'teardown', A], h.env, input)).code, 0);
  t.same(hostState(h), initial);
  const launch = (extra: Record<string, string>, options: Parameters<typeof run>[4]) => run(NETAVARK, [...globals(h), 'setup', A], { ...h.env, ...extra }, input, options);
  for (let n = 1; n <= commands; n++) {
    const { killedAfter } = await crashAfter(h.sim, n, launch);
    t.ok(killedAfter, `killed after command ${n}: ${killedAfter}`);
    const down = await netavark([...globals(h), 'teardown', A], h.env, input);
    t.equal(down.code, 0, `teardown after the kill: ${down.stdout}`);
    t.same(hostState(h), initial, `after a kill at ${killedAfter} and teardown: the host as before`);
    t.same(await leftovers(h), [], 'no record or cache entry');
  }
});

t.test("jailnet gc sees netavark's attachments: leaves a live one alone, takes one whose jail is gone", async (t) => {
  const h = await podHost(t);
  await h.jail(A);
  const before = hostState(h);
  const input = networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.89.0.2'] }], [{ container_port: 80, host_port: 8080 }]);
  t.equal((await call(h, 'setup', A, input)).code, 0);
  const live = hostState(h);
  const gc = await h.cli(['gc']);
  t.equal(gc.code, 0, gc.stderr);
  t.same(hostState(h), live, 'gc does not touch an attachment whose jail exists');
  const status = await h.cli(['status']);
  t.match(status.stdout, /^ok {4}pods' networks match jailnet's records$/m, 'status reads its records');
  await setup(h.sim, [['jail', '-r', A]]);
  const collected = await h.cli(['gc']);
  t.equal(collected.code, 0, collected.stderr);
  t.match(collected.stdout, new RegExp(`removed attachment web/${A}/eth0`));
  const after = comparable(h.sim.state(), ['podman1']);
  t.same(after.vnets, comparable(h.sim.state()).vnets);
  t.same(after.interfaces.filter((i) => i.vnet === 'host'), before.interfaces.filter((i) => i.vnet === 'host' && i.name !== 'podman1'), 'no host end left (the bridge stays, as after CNI gc)');
  t.same(h.sim.state().vnets[0]?.pf.tables[':cni-nat']?.addresses ?? [], [], 'no masquerade entry left');
  t.same(await leftovers(h), [], 'no record or cache entry left');
});

t.test('a failed setup of a second network rolls back the first', async (t) => {
  const h = await podHost(t);
  await h.jail(A);
  const initial = hostState(h);
  // A bridge name taken by an interface that is not a bridge: the second network fails at the host.
  await setup(h.sim, [['ifconfig', 'epair', 'create', 'name', 'podman2']]);
  const taken = hostState(h);
  const input = networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.89.0.2'] }, { network: BACK, ips: ['10.90.0.2'] }], [{ container_port: 80, host_port: 8080 }]);
  const failed = await call(h, 'setup', A, input);
  t.equal(failed.code, 1);
  t.match(failed.json?.error, /podman2 exists and is not a bridge/);
  t.same(hostState(h), taken, 'the first network is rolled back: nothing of web is left');
  t.same(await leftovers(h), []);
  t.ok(initial);
});
