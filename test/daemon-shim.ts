// The plugin shims (libexec/cni/*) and jailnetd: VERSION without Node, calls served by the
// daemon, and the fallback to a plugin process of its own whenever the daemon cannot serve.
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { encodeJson } from '../dist/cni/json.js';
import { versionInfo } from '../dist/cni/versions.js';
import { CALL_VARIABLES, CONTEXT_VARIABLES } from '../dist/daemon/protocol.js';
import { DAEMON_SOCKET } from '../dist/persistent-names.js';
import { PLUGIN_NAMES } from '../dist/plugins/registry.js';
import { socketDir, startDaemonProcess } from './helpers/daemon.js';
import { JAILNET, PLUGIN_DIR, run } from './helpers/run.js';

const shim = (name: string) => path.join(PLUGIN_DIR, name);

/** A PATH with what the shim itself needs (nc; wc for input that is not all ASCII) and no node: only the daemon can serve. */
async function pathWithoutNode(dir: string): Promise<string> {
  const bin = path.join(dir, 'bin');
  await fs.mkdir(bin, { recursive: true });
  for (const tool of ['nc', 'wc']) await fs.symlink(`/usr/bin/${tool}`, path.join(bin, tool)).catch(() => undefined);
  return bin;
}

function hostLocalConf(dataDir: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({ cniVersion: '1.0.0', name: 'shimnet', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.203.0.0/24' }]] }, ...extra });
}

function cniEnv(command: string, id: string, extra: Record<string, string> = {}) {
  return { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: PLUGIN_DIR, ...extra };
}

t.test('every shim is the same script, answers VERSION without Node, and forwards what the daemon reads', async (t) => {
  const files = (await fs.readdir(PLUGIN_DIR)).sort();
  t.same(files, [...PLUGIN_NAMES].sort(), 'one shim per plugin jailnet has');
  const texts = new Set(files.map((f) => readFileSync(shim(f), 'utf8')));
  t.equal(texts.size, 1, 'the shims are one script');
  const text = [...texts][0] as string;
  for (const name of files) {
    const version = await run(shim(name), [], { CNI_COMMAND: 'VERSION', PATH: '/nonexistent' }, '{"cniVersion":"1.0.0"}');
    t.equal(version.code, 0, `${name} VERSION exits 0 with no node on PATH`);
    t.equal(version.stdout, `${encodeJson(versionInfo())}\n`, `${name} VERSION prints what the plugins print`);
  }
  t.match(text, `socket=\${JAILNET_SOCKET:-${DAEMON_SOCKET}}`, 'the default socket is the daemon default');
  const forwarded = /for name in ([^;]+); do/.exec(text.replace(/\\\n\s*/g, ' '))?.[1]?.trim().split(/\s+/);
  t.same(forwarded, [...CALL_VARIABLES, ...CONTEXT_VARIABLES], 'the shim forwards exactly the variables the protocol accepts');
});

t.test('with jailnetd running, host-local runs in the daemon; stopped, in its own process', async (t) => {
  const dir = await socketDir(t);
  const dataDir = path.join(dir, 'leases');
  const socket = path.join(dir, 'd.sock');
  const daemon = await startDaemonProcess(t, {}, socket);
  const stat = await fs.stat(socket);
  t.equal(stat.mode & 0o777, 0o600, 'the socket is 0600');
  t.equal(stat.uid, process.getuid?.(), 'owned by the daemon user (root)');
  const noNode = await pathWithoutNode(dir);
  const call = (command: string, id: string, PATH: string, extra: Record<string, string> = {}) =>
    run(shim('host-local'), [], { ...cniEnv(command, id, extra), JAILNET_SOCKET: socket, PATH }, hostLocalConf(dataDir));

  const add = await call('ADD', 'served1', noNode);
  t.equal(add.code, 0, `ADD through the daemon with no node on PATH: ${add.stdout}${add.stderr}`);
  t.equal(add.json?.ips?.[0]?.address, '10.203.0.2/24', 'the daemon leased the first address');
  t.same(await fs.readdir(path.join(dataDir, 'shimnet')).then((f) => f.filter((n) => /^\d/.test(n))), ['10.203.0.2'], 'the lease is on disk');
  t.equal((await call('CHECK', 'served1', noNode)).code, 0, 'CHECK through the daemon');
  const del = await call('DEL', 'served1', noNode);
  t.equal(del.code, 0, 'DEL through the daemon');
  t.equal(del.stdout, '', 'DEL prints nothing');
  t.same(await fs.readdir(path.join(dataDir, 'shimnet')).then((f) => f.filter((n) => /^\d/.test(n))), [], 'the lease is released');

  // The shim reads stdin itself and counts its bytes: a wrong count would be refused as
  // truncated or oversized, and with no node on PATH there is nothing to fall back to.
  const unusual = `${JSON.stringify({ ...JSON.parse(hostLocalConf(dataDir)), note: 'é€ ☃ \\ back\\slash  ' }, null, '\t')}\n\n`;
  for (const [what, stdin] of [['multi-line, tabbed, UTF-8 stdin with a final newline', unusual], ['one ASCII line with a final newline', `${hostLocalConf(dataDir)}\n`]] as const) {
    const served = await run(shim('host-local'), [], { ...cniEnv('ADD', 'served2'), JAILNET_SOCKET: socket, PATH: noNode }, stdin);
    t.equal(served.code, 0, `${what} reaches the daemon whole: ${served.stdout}${served.stderr}`);
    t.equal((await run(shim('host-local'), [], { ...cniEnv('DEL', 'served2'), JAILNET_SOCKET: socket, PATH: noNode }, stdin)).code, 0);
  }

  const other = await call('ADD', 'elsewhere', noNode, { JAILNET_CONFIG: path.join(dir, 'other.conf') });
  t.not(other.code, 0, 'a call with another jailnet.conf is not served by this daemon');
  t.match(other.stderr, /node/, 'it needed its own Node process');

  await daemon.kill();
  t.ok(await fs.stat(socket).then(() => true), 'SIGKILL leaves the socket behind');
  const orphan = await call('ADD', 'fallback1', noNode);
  t.not(orphan.code, 0, 'with the daemon dead and no node, the call cannot be served');
  const fallback = await call('ADD', 'fallback1', process.env.PATH ?? '');
  t.equal(fallback.code, 0, `with the daemon dead the shim runs the plugin itself: ${fallback.stdout}${fallback.stderr}`);
  t.match(fallback.json?.ips?.[0]?.address, /^10\.203\.0\.\d+\/24$/, 'an address from the range');
  t.equal((await call('DEL', 'fallback1', process.env.PATH ?? '')).code, 0);
  await fs.rm(socket);
  const noSocket = await call('ADD', 'fallback2', process.env.PATH ?? '');
  t.equal(noSocket.code, 0, 'without a socket the shim runs the plugin itself');
  t.equal((await call('DEL', 'fallback2', process.env.PATH ?? '')).code, 0);
});

t.test('the daemon answers errors byte for byte as the plugin process does', async (t) => {
  const dir = await socketDir(t);
  const socket = path.join(dir, 'd.sock');
  await startDaemonProcess(t, {}, socket);
  const cases: Array<[string, Record<string, string>, string]> = [
    ['not JSON', cniEnv('ADD', 'e1'), '{"cniVersion":'],
    ['unsupported version', cniEnv('ADD', 'e2'), JSON.stringify({ cniVersion: '9.9.9', name: 'x', ipam: { type: 'host-local' } })],
    ['missing CNI_IFNAME', { ...cniEnv('ADD', 'e3'), CNI_IFNAME: '' }, hostLocalConf(path.join(dir, 'l'))],
    ['bad container ID', cniEnv('ADD', '../x'), hostLocalConf(path.join(dir, 'l'))],
    ['unknown command', cniEnv('FROB', 'e4'), hostLocalConf(path.join(dir, 'l'))],
  ];
  const noNode = await pathWithoutNode(dir);
  for (const [what, env, stdin] of cases) {
    const served = await run(shim('host-local'), [], { ...env, JAILNET_SOCKET: socket, PATH: noNode }, stdin);
    const own = await run(shim('host-local'), [], { ...env, JAILNET_SOCKET: path.join(dir, 'none.sock') }, stdin);
    t.equal(served.code, 1, `${what}: exit 1 from the daemon`);
    t.equal(served.stdout, own.stdout, `${what}: the same error JSON as the plugin process (${own.stdout.trim().split('\n')[1]?.trim()})`);
    t.equal(own.code, 1);
  }
});

t.test('jailnet daemon refuses an unsafe socket directory and a second daemon', async (t) => {
  const dir = await socketDir(t);
  const socket = path.join(dir, 'd.sock');
  await startDaemonProcess(t, {}, socket);
  const second = await run(process.execPath, [JAILNET, 'daemon', '--socket', socket], {});
  t.equal(second.code, 1, 'a second daemon on the same socket exits 1');
  t.match(second.stderr, `jailnet: jailnetd is already running on ${socket}`);
  const open = path.join(dir, 'open');
  await fs.mkdir(open, { mode: 0o755 });
  await fs.chmod(open, 0o755);
  const unsafe = await run(process.execPath, [JAILNET, 'daemon', '--socket', path.join(open, 's.sock')], {});
  t.equal(unsafe.code, 1, 'a directory others can read is refused');
  t.match(unsafe.stderr, /accessible to others \(mode 755\); it must be 0700/);
  t.equal(unsafe.stderr.trim().split('\n').length, 1, 'one line');
});
