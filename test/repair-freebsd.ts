// Repair on the simulated FreeBSD host: two pods publish ports and are masqueraded; the
// admin reloads pf.conf (which declares <cni-nat> empty) and something empties jailnet's
// anchors; `jailnet status` names each drift and exits 1, `jailnet repair` puts back
// exactly the pf state of before (compared as data) without touching the admin's own
// rules or anchor, the published port answers again, and ten more repairs change nothing.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { SIM_BIN } from './freebsd-sim/src/index.js';
import { crashAfter } from './helpers/crash.js';
import { socketDir, startDaemonProcess } from './helpers/daemon.js';
import { within } from './helpers/within.js';
import { PODMAN_PF_CONF } from './helpers/podnet.js';
import { podLab, type PodLab } from './helpers/pods.js';
import { setup, tool } from './helpers/sim.js';

t.setTimeout(600_000);

/** The admin's pf.conf: podman's hooks plus rules and an anchor of their own. */
const ADMIN_PF_CONF = `${PODMAN_PF_CONF}pass in quick on vtnet0 proto tcp to port 22\nanchor "admin-own"\n`;

async function twoPods(lab: PodLab): Promise<void> {
  for (const args of [
    ['pfctl', '-f', '-'],
    ['pfctl', '-a', 'admin-own', '-f', '-'],
  ]) {
    const loaded = await tool(lab.sim, args[0] as string, args.slice(1), args.length === 3 ? ADMIN_PF_CONF : 'block in quick proto tcp to port 2222\n');
    if (loaded.code !== 0) throw new Error(loaded.stderr);
  }
  const net = await lab.jailnet(['network', 'create', 'web', '--subnet', '10.89.30.0/24', '--isolate']);
  if (net.code !== 0) throw new Error(net.stderr);
  for (const [pod, port] of [['pa', '8080:80'], ['pb', '8443:443']] as const) {
    const created = await lab.jailnet(['pod', 'create', pod, '--network', 'web', '-p', port]);
    if (created.code !== 0) throw new Error(created.stderr);
  }
}

/** The host's pf as data: every anchor, table and the enable flag (states are pf's, not jailnet's). */
const hostPf = (lab: PodLab) => {
  const pf = lab.sim.state().vnets.find((v) => v.id === 'host')!.pf;
  return { enabled: pf.enabled, anchors: pf.anchors, tables: pf.tables };
};

/** What a reload of pf.conf and a flush of jailnet's anchors leave. */
async function wipe(lab: PodLab): Promise<void> {
  const anchors = Object.keys(lab.sim.state().vnets.find((v) => v.id === 'host')!.pf.anchors).filter((a) => a.startsWith('cni-rdr/') || a === 'jailnet-fw');
  const reload = await tool(lab.sim, 'pfctl', ['-f', '-'], ADMIN_PF_CONF);
  if (reload.code !== 0) throw new Error(reload.stderr);
  await setup(lab.sim, anchors.map((a) => ['pfctl', '-a', a, '-F', 'all']));
}

t.test('a pf reload and emptied anchors: status names the drift, repair puts back exactly what was there', async (t) => {
  const lab = await podLab(t);
  await twoPods(lab);
  const reach = () => lab.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 });
  t.match(reach(), { delivered: true }, 'the published port answers');
  t.equal((await lab.jailnet(['status'])).code, 0, 'no drift before');
  const before = hostPf(lab);
  const admin = before.anchors['admin-own'];

  await wipe(lab);
  t.notMatch(reach(), { jails: ['jailnet-pa'] }, 'the reload took the published port away');
  t.same(hostPf(lab).tables[':cni-nat']?.addresses, [], '<cni-nat> is empty');
  const status = await lab.jailnet(['status']);
  t.equal(status.code, 1, 'status fails on drift');
  t.match(status.stdout, /^FAIL {2}pod pa: eth0: published port 8080\/tcp -> 10\.89\.30\.\d+:80 missing — fix: jailnet repair pa$/m);
  t.match(status.stdout, /^FAIL {2}pod pb: eth0: published port 8443\/tcp -> 10\.89\.30\.\d+:443 missing/m);
  t.match(status.stdout, /^FAIL {2}pod pa: not masqueraded: 10\.89\.30\.\d+ — fix: jailnet repair pa$/m);
  t.match(status.stdout, /^FAIL {2}host: isolated subnets are \[\], the records say \[10\.89\.30\.0\/24\]/m);

  const dry = await lab.jailnet(['--dry-run', 'repair']);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /pfctl -a cni-rdr\//, 'the plan names the loads');
  t.equal((await lab.jailnet(['status'])).code, 1, '--dry-run changed nothing');

  const repaired = await lab.jailnet(['repair']);
  t.equal(repaired.code, 0, repaired.stderr);
  t.match(repaired.stdout, /^fixed pod pa: eth0: published port 8080/m);
  t.same(hostPf(lab), before, 'the pf state of before, as data');
  t.same(hostPf(lab).anchors['admin-own'], admin, "the admin's anchor is untouched");
  t.match(hostPf(lab).anchors['']?.rules.join('\n') ?? '', /port = (22|ssh)/, "the admin's own rule is there");
  t.match(reach(), { delivered: true, jails: ['jailnet-pa'] }, 'the published port answers again');
  t.equal((await lab.jailnet(['status'])).code, 0, 'no drift after');

  for (let i = 0; i < 10; i++) {
    const again = await lab.jailnet(['repair']);
    t.equal(again.stdout.trim(), 'nothing to repair', `repair ${i + 2} finds nothing`);
  }
  t.same(hostPf(lab), before, 'ten repairs later: the same state');
});

t.test('a link taken down (suspend, resume) comes back up; one pod at a time', async (t) => {
  const lab = await podLab(t);
  await twoPods(lab);
  const info = JSON.parse((await lab.jailnet(['pod', 'inspect', 'pa'])).stdout) as { jail: string };
  await setup(lab.sim, [['ifconfig', '-j', info.jail, 'eth0', 'down']]);
  const status = await lab.jailnet(['status']);
  t.match(status.stdout, /^FAIL {2}pod pa: pod interface eth0 in jailnet-pa is down — fix: jailnet repair pa$/m);
  const other = await lab.jailnet(['repair', 'pb']);
  t.equal(other.stdout.trim(), 'nothing to repair', "pb's repair leaves pa alone");
  const fixed = await lab.jailnet(['repair', 'pa']);
  t.match(fixed.stdout, /^fixed pod pa: pod interface eth0 in jailnet-pa is down$/m);
  t.equal((await lab.jailnet(['status'])).code, 0);
  const routes = () => lab.sim.state().vnets.find((v) => v.id === lab.sim.state().jails.find((j) => j.name === 'jailnet-pa')?.vnetId)?.routes;
  const defaultRoute = routes();
  await setup(lab.sim, [['route', '-j', 'jailnet-pa', 'delete', 'default']]);
  t.match((await lab.jailnet(['repair'])).stdout, /^fixed pod pa: route 0\.0\.0\.0\/0 via 10\.89\.30\.1 is gone$/m, 'a default route taken away');
  t.same(routes(), defaultRoute, 'is put back');
  t.equal((await lab.jailnet(['repair', 'no/such'])).code, 1, 'a bad pod name is refused');

  // Someone gives pod pa an epair of their own and a route.
  const made = (await setup(lab.sim, [['ifconfig', 'epair', 'create']])).stdout.trim();
  const theirs = made.replace(/a$/, 'b');
  await setup(lab.sim, [['ifconfig', theirs, 'vnet', 'jailnet-pa'], ['ifconfig', '-j', 'jailnet-pa', theirs, 'inet', '192.0.2.200/28', 'up'], ['route', '-j', 'jailnet-pa', 'add', '198.51.100.0/24', '192.0.2.201']]);
  const seen = await lab.jailnet(['status']);
  t.match(seen.stdout, new RegExp(`^FAIL  pod pa: added by someone else, not yet recorded: interface ${theirs}, route 198\\.51\\.100\\.0/24 via 192\\.0\\.2\\.201 — fix: jailnet repair pa$`, 'm'));
  t.equal((await lab.jailnet(['repair'])).code, 0);
  const inspected = JSON.parse((await lab.jailnet(['pod', 'inspect', 'pa'])).stdout) as { observed?: unknown };
  t.same(inspected.observed, { interfaces: [theirs], addresses: [], routes: ['198.51.100.0/24 via 192.0.2.201'] }, 'pod inspect shows what was added');
  const listed = JSON.parse((await lab.jailnet(['kata-network', 'list-ifaces', 'pa'])).stdout) as Array<{ name: string; ip: string[] }>;
  t.match(listed, [{ name: theirs, ip: ['192.0.2.200/28'] }], 'list-ifaces shows it too');
  const recorded = await lab.jailnet(['status']);
  t.equal(recorded.code, 0, `recorded: no drift ${recorded.stdout}`);
  t.equal((await lab.jailnet(['pod', 'rm', 'pa'])).code, 0);
  t.notOk(lab.sim.state().ifaces.some((i) => i.name === made || i.name === theirs), 'pod rm took the added epair away: nothing comes back to the host');
});

/** The simulated route monitors running now (only this file's tests start any). */
function monitors(): string[] {
  const ps = spawnSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).stdout.split('\n');
  return ps.filter((line) => line.includes(path.join(SIM_BIN, 'route')) && / monitor$/.test(line)).map((line) => line.trim());
}


t.test('netmon in jailnetd: a pf reload repaired within 2 s without repair, a link brought back, no monitor left', async (t) => {
  const lab = await podLab(t, { runtime: ['[netmon]', 'enable_netmon = true'] });
  await twoPods(lab);
  const before = hostPf(lab);
  const socket = path.join(await socketDir(t), 'jailnetd.sock');
  const daemon = await startDaemonProcess(t, { ...lab.env, PATH: process.env.PATH }, socket, ['--config', path.join(lab.dir, 'jailnet.conf'), '--log-level', 'info']);
  t.not(await within(20_000, () => daemon.stderr().includes('netmon on')), undefined, 'netmon runs in jailnetd');
  t.not(await within(10_000, () => monitors().length === 3), undefined, 'a route monitor for the host and each pod');
  const [victim] = monitors().filter((m) => m.includes('-j jailnet-pa'));
  process.kill(Number(victim?.split(' ')[0]), 'SIGKILL');
  t.not(await within(5_000, () => monitors().length === 3 && !monitors().includes(victim as string)), undefined, 'a monitor killed is started again');
  t.match(daemon.stderr(), /netmon: monitor of jailnet-pa exited \(null\); again in 1000 ms/, 'and its death is logged');

  await wipe(lab);
  const repaired = await within(5_000, () => isDeepStrictEqual(hostPf(lab), before));
  t.ok(repaired !== undefined && repaired <= 2_000, `the pf state of before, within 2 s (${repaired} ms)`);
  t.match(lab.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 }), { delivered: true, jails: ['jailnet-pa'] }, 'the published port answers again');

  await setup(lab.sim, [['ifconfig', '-j', 'jailnet-pb', 'eth0', 'down']]);
  const up = () => lab.sim.state().ifaces.find((i) => i.name === 'eth0' && i.vnet === lab.sim.state().jails.find((j) => j.name === 'jailnet-pb')?.vnetId)?.up === true;
  const back = await within(5_000, up);
  t.ok(back !== undefined && back <= 2_000, `the pod's interface is up again within 2 s (${back} ms)`);

  t.equal((await lab.jailnet(['pod', 'rm', 'pb'])).code, 0);
  t.not(await within(5_000, () => monitors().length === 2), undefined, "the removed pod's monitor is gone");
  t.equal(daemon.child.signalCode, null, 'jailnetd is still running');
  const code = await daemon.stop();
  t.equal(code, 0, `jailnetd stops on SIGTERM (${code} ${daemon.child.signalCode}): ${daemon.stderr()}`);
  t.not(await within(3_000, () => monitors().length === 0), undefined, 'no monitor is left after the daemon stops');
  t.match(daemon.stderr(), /netmon: fixed pod pa: eth0: published port 8080/, 'netmon logs what it fixed');
  t.equal(daemon.stderr().match(/"level":(40|50)/g)?.length, 1, 'netmon logged no other warning or error');
});

t.test('jailnetd killed after each host command of its repair: the next repair finishes the job', async (t) => {
  const lab = await podLab(t, { runtime: ['[netmon]', 'enable_netmon = true'] });
  await twoPods(lab);
  const before = hostPf(lab);
  // How many host commands a whole repair takes, with the three monitors netmon starts.
  await wipe(lab);
  const counted = lab.sim.state().commandCount;
  t.equal((await lab.jailnet(['repair'])).code, 0);
  const commands = lab.sim.state().commandCount - counted + 3;
  const socket = path.join(await socketDir(t), 'jailnetd.sock');
  let finished = 0;
  for (let n = 1; n <= commands; n++) {
    await wipe(lab);
    const { killedAfter } = await crashAfter(lab.sim, n, lab.launch(['daemon', '--socket', socket]));
    t.ok(killedAfter, `jailnetd killed after command ${n}: ${killedAfter}`);
    if (isDeepStrictEqual(hostPf(lab), before)) finished++;
    t.same(monitors(), [], 'no monitor outlives the daemon');
    const repaired = await lab.jailnet(['repair']);
    t.equal(repaired.code, 0, repaired.stderr);
    t.same(hostPf(lab), before, `after a kill at ${killedAfter}, repair puts back the pf state of before`);
    t.equal((await lab.jailnet(['repair'])).stdout.trim(), 'nothing to repair');
  }
  t.comment(`crash: jailnetd killed after each of ${commands} host commands of its first pass; ${finished} kills came after its repair was whole`);
});
