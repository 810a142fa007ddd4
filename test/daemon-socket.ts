// jailnetd's socket under hostile use: malformed, oversized, truncated and slow requests,
// a dropped connection and a non-root client are refused one by one while the daemon
// keeps serving; calls on different networks do not wait for each other.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { MAX_HEAD_BYTES, ProtocolError, parseRequest } from '../dist/daemon/protocol.js';
import { LOCK_OWNER_FILE } from '../dist/ipam/store.js';
import { acquireLock } from '../dist/util/file-lock.js';
import { rawRequest, socketDir, startDaemonProcess } from './helpers/daemon.js';
import { PLUGIN_DIR, run } from './helpers/run.js';

const PLUGINS = new Set(['host-local']);

function request(stdin: string, env: string[] = ['CNI_COMMAND=ADD'], plugin = 'host-local', length = Buffer.byteLength(stdin)): string {
  return `jailnetd/1 cni ${plugin} ${length}\n${env.map((line) => `${line}\n`).join('')}\n${stdin}`;
}

t.test('parseRequest: complete, incomplete, refused', async (t) => {
  const whole = Buffer.from(request('{"a":1}', ['CNI_COMMAND=ADD', 'CNI_IFNAME=eth0']));
  t.same(parseRequest(whole, PLUGINS), { complete: true, call: { kind: 'cni', plugin: 'host-local', env: { CNI_COMMAND: 'ADD', CNI_IFNAME: 'eth0' }, stdin: Buffer.from('{"a":1}') } });
  for (let cut = 0; cut < whole.length; cut++) {
    if (parseRequest(whole.subarray(0, cut), PLUGINS).complete) t.fail(`a request cut at ${cut} bytes counts as complete`);
  }
  t.pass('no prefix of a request is complete');
  const refused: Array<[string, string]> = [
    ['GET / HTTP/1.0\n\n', 'not a jailnetd/1 request line'],
    [request('x', [], 'bridge'), 'no CNI plugin named "bridge"'],
    [request('x', [], '../host-local'), 'not a jailnetd/1 request line'],
    [request('x', [], 'host-local', 2_000_000), 'stdin of 2000000 bytes exceeds 1048576'],
    [request('x', ['PATH=/tmp']), 'unexpected environment line "PATH=/tmp"'],
    [request('x', ['CNI_COMMAND=ADD', 'CNI_COMMAND=DEL']), 'CNI_COMMAND given twice'],
    [request('x', ['CNI_ARGS=a\tb']), 'control character in CNI_ARGS'],
    [request('xyz', ['CNI_COMMAND=ADD'], 'host-local', 2), 'more than the announced 2 bytes of stdin'],
  ];
  for (const [bytes, message] of refused) {
    t.throws(() => parseRequest(Buffer.from(bytes), PLUGINS), new ProtocolError(message), message);
  }
  t.throws(() => parseRequest(Buffer.alloc(MAX_HEAD_BYTES + 1, 'a'), PLUGINS), /request head exceeds 65536 bytes/, 'an endless head line');
  const kata = Buffer.from('jailnetd/1 kata-network list-ifaces web 2\nJAILNET_HOST=linux\n\n{}');
  t.same(parseRequest(kata, PLUGINS), { complete: true, call: { kind: 'kata-network', sub: 'list-ifaces', id: 'web', env: { JAILNET_HOST: 'linux' }, stdin: Buffer.from('{}') } }, 'a runtime API request');
  t.throws(() => parseRequest(Buffer.from('jailnetd/1 kata-network add-iface web 2000000\n\n'), PLUGINS), /stdin of 2000000 bytes exceeds/, "the runtime API's input is bounded too");
  t.same(parseRequest(Buffer.from('jailnetd/1 kata-ipvs web 11\nJAILNET_HOST=linux\n\nipvsadm -Ln'), PLUGINS), { complete: true, call: { kind: 'kata-ipvs', id: 'web', env: { JAILNET_HOST: 'linux' }, stdin: Buffer.from('ipvsadm -Ln') } }, 'a load balancer request');
  t.throws(() => parseRequest(Buffer.from('jailnetd/1 kata-ipvs web 11\nCNI_COMMAND=ADD\n\nipvsadm -Ln'), PLUGINS), /unexpected environment line/, 'only context variables travel with it');
  t.throws(() => parseRequest(Buffer.from('jailnetd/1 kata-ipvs ipvsadm web 11\n'), PLUGINS), /not a jailnetd\/1 request line/, 'an ID and a length, nothing else');
  t.throws(() => parseRequest(Buffer.from(`jailnetd/1 cni host-local 1\n${'CNI_ARGS=x\n'.repeat(7000)}`), PLUGINS), /head exceeds/, 'endless environment lines');
});

function hostLocal(dataDir: string, name: string): string {
  return JSON.stringify({ cniVersion: '1.0.0', name, ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.204.0.0/24' }]] } });
}

function shimAdd(socket: string, dataDir: string, network: string, id: string) {
  const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: id, CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: PLUGIN_DIR, JAILNET_SOCKET: socket };
  return run(path.join(PLUGIN_DIR, 'host-local'), [], env, hostLocal(dataDir, network));
}

async function leases(dataDir: string, network: string): Promise<string[]> {
  return (await fs.readdir(path.join(dataDir, network)).catch(() => [] as string[])).filter((f) => /^\d/.test(f));
}

t.test('hostile requests are refused one by one and the daemon keeps serving', async (t) => {
  const dir = await socketDir(t);
  const socket = path.join(dir, 'd.sock');
  const dataDir = path.join(dir, 'leases');
  const daemon = await startDaemonProcess(t, {}, socket);
  const served = async (what: string) => {
    const add = await shimAdd(socket, dataDir, 'alive', `after-${what}`.replace(/\W/g, '-'));
    t.equal(add.code, 0, `after ${what}, an ADD is still served: ${add.stderr}`);
  };
  // A slow client holds its connection open without finishing; the others go on meanwhile.
  const slow = rawRequest(socket, 'jailnetd/1 cni host-local 10\nCNI_COMMAND=ADD\n');

  t.match(await rawRequest(socket, 'GET / HTTP/1.0\r\n\r\n'), /^jailnetd\/1 refused\nnot a jailnetd\/1 request line/, 'malformed');
  await served('a malformed request');
  t.match(await rawRequest(socket, Buffer.alloc(200_000, 'A')), /^jailnetd\/1 refused\nrequest head exceeds 65536 bytes/, 'oversized head');
  t.match(await rawRequest(socket, request('x', ['CNI_COMMAND=ADD'], 'host-local', 5_000_000)), /exceeds 1048576/, 'oversized stdin announced');
  await served('oversized requests');
  const truncated = request(hostLocal(dataDir, 'cut'), ['CNI_COMMAND=ADD', 'CNI_CONTAINERID=cut', 'CNI_NETNS=/x', 'CNI_IFNAME=eth0', `CNI_PATH=${PLUGIN_DIR}`]);
  t.match(await rawRequest(socket, truncated.slice(0, -5), { halfClose: true }), /^jailnetd\/1 refused\nrequest truncated/, 'truncated');
  t.same(await leases(dataDir, 'cut'), [], 'a truncated ADD ran nothing');
  await served('a truncated request');
  await new Promise<void>((resolve) => {
    const client = net.connect(socket, () => client.write(truncated.slice(0, 40), () => (client.destroy(), resolve())));
  });
  await served('a dropped connection');
  const nobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'nc', '-U', socket], { input: request('{}'), encoding: 'utf8' });
  t.not(nobody.status, 0, 'a non-root client cannot connect');
  t.match(nobody.stderr, /Permission denied/, nobody.stderr.trim());
  t.equal(nobody.stdout, '', 'and gets no answer');
  await served('a non-root client');
  t.match(await slow, /^jailnetd\/1 refused\nrequest not complete within 10000 ms/, 'a slow client is cut off after 10 s');
  await served('a slow client');
  t.equal(daemon.child.exitCode, null, 'the daemon is still running');
  t.equal((await leases(dataDir, 'alive')).length, 6, 'every ADD in between got its lease');
});

t.test('calls on different networks run concurrently; 20 on one network get 20 addresses', async (t) => {
  const dir = await socketDir(t);
  const socket = path.join(dir, 'd.sock');
  const dataDir = path.join(dir, 'leases');
  await startDaemonProcess(t, {}, socket);
  // Network "held" cannot allocate while the test holds its lease lock.
  await fs.mkdir(path.join(dataDir, 'held'), { recursive: true });
  const release = await acquireLock(path.join(dataDir, 'held', LOCK_OWNER_FILE));
  let heldDone = false;
  const held = shimAdd(socket, dataDir, 'held', 'waiting').then((r) => ((heldDone = true), r));
  const others = await Promise.all(Array.from({ length: 20 }, (_, i) => shimAdd(socket, dataDir, 'free', `c${i}`)));
  t.same(others.map((r) => r.code), Array(20).fill(0), '20 concurrent ADDs on network "free" succeed');
  t.equal(new Set(others.map((r) => r.json?.ips?.[0]?.address)).size, 20, '20 distinct addresses');
  t.equal(heldDone, false, 'meanwhile the ADD on network "held" still waits for its lock');
  await release();
  const waited = await held;
  t.equal(waited.code, 0, `and succeeds once the lock is free: ${waited.stderr}`);
});
