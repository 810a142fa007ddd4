// The netavark door through jailnetd: libexec/podman/netavark forwards setup and teardown to
// the daemon, which runs the same module with the same result as the executable's own
// process; the daemon serves it only in the caller's network namespace; the shim's version
// line is the contract's; a teardown is not cut in half by SIGTERM.
import path from 'node:path';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import t from 'tap';
import { NETAVARK_COMPATIBLE_VERSION } from '../dist/netavark/contract.js';
import { socketDir, startDaemonProcess } from './helpers/daemon.js';
import { missingPrerequisite, netnsAdd, netnsRemove, scratchDir, sh } from './helpers/linux.js';
import { NETAVARK, netavark, networkOptions, type NetworkSpec } from './helpers/netavark.js';
import { comparable, podHost } from './helpers/podnet.js';
import { envAssignments, run } from './helpers/run.js';
import { within } from './helpers/within.js';

const A = 'a7'.repeat(32);

/** The direct children of a process (Linux's /proc). */
function childrenOf(pid: number): number[] {
  const tasks = readdirSync(`/proc/${pid}/task`);
  return tasks.flatMap((task) => readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}
const WEB: NetworkSpec = { name: 'web', bridge: 'podman1', subnets: [{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }] };

t.test("the shim's --version is the contract's", async (t) => {
  const shim = await netavark(['--version'], {});
  t.equal(shim.stdout, `netavark ${NETAVARK_COMPATIBLE_VERSION}\n`);
});

t.test('served by jailnetd: the same answer and host as in a process of its own', async (t) => {
  const h = await podHost(t);
  await h.jail(A);
  const input = JSON.stringify(networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.89.0.2'] }], [{ container_port: 80, host_port: 8080 }]));
  const args = ['--config', path.join(h.dir, 'run'), '--rootless=false', '--aardvark-binary=', 'setup', A];
  const alone = await netavark(args, h.env, input);
  t.equal(alone.code, 0, alone.stdout);
  const hostAlone = comparable(h.sim.state());
  t.equal((await netavark([...args.slice(0, -2), 'teardown', A], h.env, input)).code, 0);

  const socket = path.join(await socketDir(t), 'jailnetd.sock');
  const daemon = await startDaemonProcess(t, { ...h.env, JAILNET_LOG_LEVEL: 'info' }, socket, ['--log-level', 'info']);
  const env = { ...h.env, JAILNET_SOCKET: socket };
  const served = await netavark(args, env, input);
  t.equal(served.code, 0, served.stdout);
  t.same(Object.keys(served.json), ['web']);
  t.same(served.json.web.interfaces.eth0.subnets, alone.json.web.interfaces.eth0.subnets, 'the same addresses');
  const hostServed = comparable(h.sim.state());
  t.same(hostServed.vnets, hostAlone.vnets, 'the same routes and packet filter');
  t.same(hostServed.interfaces.map((i) => [i.name, i.vnet, i.inet]), hostAlone.interfaces.map((i) => [i.name, i.vnet, i.inet]), 'the same interfaces');
  t.match(h.sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 }), { delivered: true, jails: [A] });
  const down = await netavark([...args.slice(0, -2), 'teardown', A], env, input);
  t.equal(down.code, 0, down.stdout);
  await new Promise((r) => setTimeout(r, 200));
  const lines = daemon.stderr().split('\n').filter((l) => l.includes('"msg":"served"') && l.includes('"netavark"'));
  t.ok(lines.some((l) => l.includes('"netavark":"setup"') && l.includes('"code":"0"')), 'the daemon served the setup');
  t.ok(lines.some((l) => l.includes('"netavark":"teardown"')), 'and the teardown');
  const bad = await netavark([...args.slice(0, -2), 'setup', 'nosuchjail'], env, input);
  t.match(bad, { code: 1, json: { error: /^invalid namespace path: / } }, "an error through the daemon is netavark's shape");
  await daemon.stop();
});

t.test('a teardown goes on past SIGTERM', async (t) => {
  const h = await podHost(t);
  await h.jail(A);
  const input = JSON.stringify(networkOptions(A, 'ctr-a', [{ network: WEB, ips: ['10.89.0.2'] }], [{ container_port: 80, host_port: 8080 }]));
  const args = ['--config', path.join(h.dir, 'run'), 'setup', A];
  const before = comparable(h.sim.state(), ['podman1']);
  t.equal((await netavark(args, h.env, input)).code, 0);
  const start = h.sim.state().commandCount;
  const child = spawn(NETAVARK, ['--config', path.join(h.dir, 'run'), 'teardown', A], { stdio: ['pipe', 'pipe', 'pipe'], env: Object.fromEntries(envAssignments(h.env).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)])) });
  child.stdin.end(input);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.ok(await within(20_000, () => h.sim.state().commandCount > start), 'the teardown has begun');
  const atSignal = h.sim.state().commandCount;
  // The shim and the Node process it runs, not the host tools they start: as podman's own
  // SIGTERM reaches its netavark (a terminal's SIGINT would reach the tools as well).
  for (const pid of [child.pid as number, ...childrenOf(child.pid as number)]) process.kill(pid, 'SIGTERM');
  t.equal(await exited, 0, 'it finished and exited 0');
  t.ok(h.sim.state().commandCount > atSignal, 'host commands ran after the signal');
  const after = comparable(h.sim.state(), ['podman1']);
  t.same({ ...after, interfaces: after.interfaces.filter((i) => i.name !== 'lo0') }, { ...before, interfaces: before.interfaces.filter((i) => i.name !== 'lo0') }, 'and left nothing');
});

const missing = missingPrerequisite();
if (missing) t.fail(`cannot run the Linux part: ${missing}`);
else t.test('a daemon in another network namespace sends the call back', async (t) => {
  const ns = 'jnt-nvdns';
  const ctr = 'jnt-nvdctr';
  t.teardown(() => [ns, ctr].forEach(netnsRemove));
  const hostNs = netnsAdd(ns);
  const ctrNs = netnsAdd(ctr);
  const dir = scratchDir('netavark-daemon');
  const conf = path.join(dir, 'jailnet.conf');
  writeFileSync(conf, `[runtime]\nstate_dir = ${path.join(dir, 'state')}\n`);
  const env = { PATH: process.env.PATH, JAILNET_CONFIG: conf, JAILNET_RUN_DIR: path.join(dir, 'run') };
  const socket = path.join(await socketDir(t), 'jailnetd.sock');
  // The daemon in the machine's namespace, the caller in a scratch one: the bridge must be the caller's.
  const daemon = await startDaemonProcess(t, { ...env, JAILNET_LOG_LEVEL: 'info' }, socket, ['--log-level', 'info']);
  const spec: NetworkSpec = { name: 'jntnvd', bridge: 'jnt-nvd0', subnets: [{ subnet: '10.246.60.0/24', gateway: '10.246.60.1' }] };
  const input = JSON.stringify(networkOptions(A, 'ctr-a', [{ network: spec, ips: ['10.246.60.2'] }]));
  const call = (sub: string) => run('/usr/bin/nsenter', [`--net=${hostNs}`, '--', NETAVARK, '--config', path.join(dir, 'nv'), sub, ctrNs], { ...env, JAILNET_SOCKET: socket }, input);
  const up = await call('setup');
  t.equal(up.code, 0, up.stdout);
  t.equal(sh('ip', ['link', 'show', 'jnt-nvd0'], { allowFailure: true }).code === 0, false, "no bridge in the daemon's (the machine's) namespace");
  t.match(sh('nsenter', [`--net=${hostNs}`, 'ip', '-o', 'addr', 'show', 'jnt-nvd0']).stdout, /10\.246\.60\.1\/24/, "the bridge is in the caller's");
  t.equal((await call('teardown')).code, 0);
  await new Promise((r) => setTimeout(r, 200));
  t.ok(daemon.stderr().includes('"code":"fallback"'), 'the daemon sent the calls back');
  await daemon.stop();
});
