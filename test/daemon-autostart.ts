// [daemon] autostart: a netavark or CNI call that finds no jailnetd runs in its own process,
// then starts one (once, however many calls come at the same time) that serves the calls
// after it and stops by itself once idle; off, nothing is started. Every daemon a test
// starts is found by its socket and stopped in the teardown.
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseConfigText } from '../dist/config/jailnet-conf.js';
import { defaultDaemonAutostart } from '../dist/platform.js';
import { daemonLogFile, daemonPidFile } from '../dist/persistent-names.js';
import { answers, socketDir } from './helpers/daemon.js';
import { netavark, networkOptions, type NetworkSpec } from './helpers/netavark.js';
import { podHost, type PodHost } from './helpers/podnet.js';
import { JAILNET, PLUGIN_DIR, ROOT, run } from './helpers/run.js';
import type { TestDir } from './helpers/sim.js';
import { within } from './helpers/within.js';

const WEB: NetworkSpec = { name: 'web', bridge: 'podman1', subnets: [{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }] };
const ID = (n: number) => `a${n}`.repeat(32).slice(0, 64);

/** The live processes whose command line names this socket (Linux's /proc). */
function daemonsOn(socket: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv.includes('daemon') && argv.includes(socket);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether the check holds within the time (within() returns the time it took, 0 when at once). */
const holds = async (ms: number, check: () => boolean | Promise<boolean>) => (await within(ms, check)) !== undefined;

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

/** A simulated host whose jailnet.conf has these [daemon] lines, a private socket, and a teardown that stops what was started. */
async function lab(t: TestDir & { teardown(fn: () => unknown): void }, daemonLines: string[]) {
  const h = await podHost(t);
  appendFileSync(h.env.JAILNET_CONFIG as string, ['[daemon]', ...daemonLines, ''].join('\n'));
  const socket = path.join(await socketDir(t), 'jailnetd.sock');
  t.teardown(async () => {
    for (const pid of daemonsOn(socket)) process.kill(pid, 'SIGTERM');
    await within(10_000, () => daemonsOn(socket).length === 0);
    for (const pid of daemonsOn(socket)) process.kill(pid, 'SIGKILL');
  });
  h.env.JAILNET_SOCKET = socket;
  const env = { ...h.env, JAILNET_LOG_LEVEL: 'info' };
  return { h, socket, env, args: (command: string, ns: string) => ['--config', path.join(h.dir, 'run'), command, ns] };
}

function setupInput(n: number) {
  return JSON.stringify(networkOptions(ID(n), `ctr-${n}`, [{ network: WEB, ips: [`10.89.0.${n + 1}`] }]));
}

async function jails(h: PodHost, count: number) {
  for (let n = 1; n <= count; n++) await h.jail(ID(n));
}

t.test('the default: on for FreeBSD, off elsewhere; the keys are checked', async (t) => {
  t.equal(defaultDaemonAutostart('freebsd'), true);
  t.equal(defaultDaemonAutostart('linux'), false);
  t.match(parseConfigText('[daemon]\nautostart = yes\nidle_exit = 90\n', 'f'), { daemon: { autostart: true, idleExitMs: 90_000 } });
  t.match(parseConfigText('[runtime]\n', 'f'), { daemon: { idleExitMs: 600_000 } });
  t.throws(() => parseConfigText('[daemon]\nautostart = maybe\n', 'f'), /f:2: \[daemon\] autostart/);
  t.throws(() => parseConfigText('[daemon]\nidle_exit = 0\n', 'f'), /f:2: \[daemon\] idle_exit: must be a positive number of seconds/);
});

t.test('jailnet daemon --idle-exit takes a positive number of seconds', async (t) => {
  const socket = path.join(await socketDir(t), 'jailnetd.sock');
  for (const bad of ['0', '-1', 'soon', '']) {
    const r = await run(process.execPath, [JAILNET, 'daemon', '--socket', socket, '--idle-exit', bad], {});
    t.equal(r.code, 2, `--idle-exit ${JSON.stringify(bad)} is refused as a usage error`);
    t.match(r.stderr, /must be a positive number of seconds/);
    t.equal(r.stderr.trim().split('\n').length, 1, 'in one line');
    t.notOk(existsSync(socket), 'and nothing listens');
  }
});

t.test('a call without jailnetd starts one, which serves the next call', async (t) => {
  const { h, socket, env, args } = await lab(t, ['autostart = yes', 'idle_exit = 60']);
  await jails(h, 2);
  t.match((await h.cli(['status'])).stdout, `\nnote  jailnetd is not running on ${socket}: the next plugin or netavark call starts it ([daemon] autostart)\n`, 'status says the next call starts it');
  const first = await netavark(args('setup', ID(1)), env, setupInput(1));
  t.equal(first.code, 0, first.stdout);
  t.ok(first.json.web, 'the first call is answered in its own process');
  t.ok(await holds(20_000, () => answers(socket)), 'then a jailnetd answers on the socket');
  const pid = Number(readFileSync(daemonPidFile(socket), 'utf8'));
  t.same(daemonsOn(socket), [pid], 'one daemon, the one in the pidfile');
  const status = await h.cli(['status']);
  t.match(status.stdout, `\nok    jailnetd serves on ${socket} (pid ${pid}, started by a call: it stops after 60 s without one)\n`, 'status says a call started it');
  t.equal(status.code, 0);
  const second = await netavark(args('setup', ID(2)), env, setupInput(2));
  t.equal(second.code, 0, second.stdout);
  t.match(second.json.web.interfaces.eth0.subnets[0].ipnet, '10.89.0.3/24');
  const served = () => readFileSync(daemonLogFile(socket), 'utf8').split('\n').filter((l) => l.includes('"msg":"served"'));
  t.ok(await holds(2_000, () => served().some((l) => l.includes('"netavark":"setup"'))), 'the daemon served the second setup');
  for (const n of [1, 2]) t.equal((await netavark(args('teardown', ID(n)), env, setupInput(n))).code, 0);
  t.same(daemonsOn(socket), [pid], 'the calls through it started no other');
  // What rc.d/jailnetd does before it starts the supervised daemon in its place.
  const rcFunction = /^jailnetd_stop_autostarted\(\)\n\{\n[^]*?\n\}\n/m.exec(readFileSync(path.join(ROOT, 'rc.d', 'jailnetd'), 'utf8'))?.[0];
  t.ok(rcFunction, "rc.d/jailnetd's start_precmd");
  const stopped = await run('/bin/sh', ['-c', `${rcFunction}\njailnetd_socket=${socket}\njailnetd_stop_autostarted`], {});
  t.equal(stopped.code, 0, stopped.stderr);
  t.notOk(alive(pid), 'rc.d/jailnetd stops it before its own start');
  t.notOk(existsSync(daemonPidFile(socket)), 'and takes its pidfile away');
  t.notOk(existsSync(socket), 'and its socket');
});

t.test('it stops by itself after idle_exit seconds without a call', async (t) => {
  const { h, socket, env, args } = await lab(t, ['autostart = yes', 'idle_exit = 1']);
  await jails(h, 1);
  t.equal((await netavark(args('setup', ID(1)), env, setupInput(1))).code, 0);
  t.ok(await holds(20_000, () => answers(socket)), 'started');
  const pid = Number(readFileSync(daemonPidFile(socket), 'utf8'));
  t.equal((await netavark(args('teardown', ID(1)), env, setupInput(1))).code, 0, 'a call keeps it');
  t.ok(await holds(10_000, () => !alive(pid)), 'then it is gone');
  t.notOk(existsSync(socket), 'with its socket');
  t.notOk(existsSync(daemonPidFile(socket)), 'and its pidfile');
  t.match(readFileSync(daemonLogFile(socket), 'utf8'), /jailnetd: idle for 1 s, stopping/, 'its log says why');
});

t.test('calls at the same time start one daemon; a stale pidfile is taken over', async (t) => {
  const { h, socket, env, args } = await lab(t, ['autostart = yes', 'idle_exit = 60']);
  await jails(h, 6);
  writeFileSync(daemonPidFile(socket), '999999999\n');
  const calls = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => netavark(args('setup', ID(n)), env, setupInput(n))));
  t.same(calls.map((c) => c.code), [0, 0, 0, 0, 0, 0], calls.map((c) => c.stdout).join(''));
  t.ok(await holds(20_000, () => answers(socket)), 'a jailnetd answers');
  await new Promise((r) => setTimeout(r, 500));
  const running = daemonsOn(socket);
  t.equal(running.length, 1, `exactly one daemon: ${running.join(' ')}`);
  t.equal(Number(readFileSync(daemonPidFile(socket), 'utf8')), running[0], 'the pidfile names it');
  for (const n of [1, 2, 3, 4, 5, 6]) t.equal((await netavark(args('teardown', ID(n)), env, setupInput(n))).code, 0);
});

t.test('off (the default on Linux, or autostart = no): nothing is started', async (t) => {
  for (const lines of [[], ['autostart = no']]) {
    const { h, socket, env, args } = await lab(t, lines);
    await jails(h, 1);
    t.equal((await netavark(args('setup', ID(1)), env, setupInput(1))).code, 0);
    t.equal((await netavark(args('teardown', ID(1)), env, setupInput(1))).code, 0);
    await new Promise((r) => setTimeout(r, 300));
    t.same(daemonsOn(socket), [], `no daemon with [daemon] ${lines.join(' ') || '(nothing)'}`);
    t.notOk(existsSync(daemonPidFile(socket)), 'no pidfile');
    const status = await h.cli(['status']);
    t.match(status.stdout, `\nnote  jailnetd is not running on ${socket}: each plugin and netavark call starts a Node process — to run it: sysrc jailnetd_enable=YES && service jailnetd start, or [daemon] autostart = yes in jailnet.conf\n`, 'status says so, and how to run it');
    t.equal(status.code, 0, 'a note is not a failure');
  }
});

t.test('a CNI plugin call starts it too', async (t) => {
  const { h, socket, env } = await lab(t, ['autostart = yes', 'idle_exit = 60']);
  await h.jail(ID(1));
  const cniEnv = { ...env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: ID(1), CNI_NETNS: ID(1), CNI_IFNAME: 'lo', CNI_PATH: PLUGIN_DIR };
  const add = await run(path.join(PLUGIN_DIR, 'loopback'), [], cniEnv, JSON.stringify({ cniVersion: '1.0.0', name: 'lo', type: 'loopback' }));
  t.equal(add.code, 0, add.stderr);
  t.ok(await holds(20_000, () => answers(socket)), 'a jailnetd answers after the ADD');
});
