// What every part of the benchmark shares: the environment plugins run in, cold plugin
// processes, libcni's way of running a conflist, podman's default chain, jailnetd.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const JAILNET_DIR = path.join(root, 'libexec', 'cni');
export const REFERENCE_DIR = '/usr/lib/cni';
const { socketAnswers } = await import(path.join(root, 'dist', 'daemon', 'socket-probe.js'));
// The CA bundle variable of some machines adds ~140 ms to every Node start.
const { NODE_EXTRA_CA_CERTS: _slow, NODE_OPTIONS: _hooks, JAILNET_SOCKET: _socket, ...inherited } = process.env;
export const baseEnv = inherited;
export const scratch = mkdtempSync(path.join(tmpdir(), 'jnbench-'));

/** Untimed calls before each series: every implementation is measured warm (page cache, and jailnetd's JIT). */
export const WARMUP = 3;
export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const ms = (started) => Number(process.hrtime.bigint() - started) / 1e6;

/** One cold plugin process; wall-clock ms, peak RSS (KiB, from /usr/bin/time), stdout. */
export function call(file, env, input) {
  const started = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', file], { input, encoding: 'utf8', env: { ...baseEnv, ...env } });
  const elapsed = ms(started);
  if (r.status !== 0) throw new Error(`${file} ${env.CNI_COMMAND}: ${r.stdout}${r.stderr}`);
  return { ms: elapsed, rssKb: Number(r.stderr.trim().split('\n').at(-1)), stdout: r.stdout };
}

/** One plugin process without waiting in this one, so that several pods can be set up at once. */
function callAsync(file, env, input) {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [], { env: { ...baseEnv, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} ${env.CNI_COMMAND}: ${out}`))));
    child.stdin.end(input);
  });
}

/**
 * Runs a conflist's plugins the way libcni does: ADD in order with prevResult, DEL in reverse.
 * portMappings go to the plugins that declare the capability.
 */
export async function runChain(dir, list, command, env, { prevResult, portMappings = [] } = {}) {
  const plugins = command === 'ADD' ? list.plugins : [...list.plugins].reverse();
  let result = prevResult;
  const started = process.hrtime.bigint();
  for (const plugin of plugins) {
    const runtimeConfig = plugin.capabilities?.portMappings ? { portMappings } : undefined;
    const conf = { ...plugin, cniVersion: list.cniVersion, name: list.name, ...(runtimeConfig ? { runtimeConfig } : {}), ...(result ? { prevResult: result } : {}) };
    const out = await callAsync(path.join(dir, plugin.type), { ...env, CNI_COMMAND: command, CNI_PATH: dir }, JSON.stringify(conf));
    if (command === 'ADD') result = JSON.parse(out);
  }
  return { ms: ms(started), result };
}

/** podman 4's default network as a conflist: bridge + host-local, portmap, firewall, tuning. */
export function defaultChain(name, bridge, subnet, dataDir) {
  const gateway = subnet.replace(/0\/\d+$/, '1');
  return {
    cniVersion: '0.4.0',
    name,
    plugins: [
      { type: 'bridge', bridge, isGateway: true, ipMasq: true, hairpinMode: true, ipam: { type: 'host-local', dataDir, routes: [{ dst: '0.0.0.0/0' }], ranges: [[{ subnet, gateway }]] } },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall' },
      { type: 'tuning' },
    ],
  };
}

/** The daemon's heap bounds as systemd/jailnetd.service (and rc.d/jailnetd) ship them. */
function shippedNodeOptions() {
  const unit = readFileSync(path.join(root, 'systemd', 'jailnetd.service'), 'utf8');
  return /^Environment="NODE_OPTIONS=(.+)"$/m.exec(unit)?.[1] ?? '';
}

/** `jailnet daemon` in the foreground on its own socket, with this environment, started as the units start it. */
export async function startDaemon(socket, env = baseEnv) {
  if (await socketAnswers(socket)) throw new Error(`a jailnetd already answers on ${socket}: stop it first`);
  const child = spawn(process.execPath, [path.join(root, 'bin', 'jailnet.js'), 'daemon', '--socket', socket], { env: { ...env, NODE_OPTIONS: shippedNodeOptions() }, stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    if (await socketAnswers(socket)) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('jailnetd did not start');
}

/** The daemon's peak resident set so far (VmHWM), MiB; NaN when it is no longer running (the shims fell back). */
export function peakRssMiB(child) {
  if (child.exitCode !== null || child.signalCode !== null) return NaN;
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]) / 1024;
}

/** Runs jobs with at most `width` at a time; the first failure stops the rest. */
export async function inBatches(count, width, job) {
  let next = 0;
  const worker = async () => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
}

/**
 * Replaces what lies between `<!-- mark -->` and `<!-- /mark -->` in bench/README.md with
 * a dated line and the table: the rest of the file, other results included, stays.
 */
export function writeResults(mark, when, text) {
  const readme = path.join(root, 'bench', 'README.md');
  const [head, rest = ''] = readFileSync(readme, 'utf8').split(`<!-- ${mark} -->`);
  const tail = rest.includes(`<!-- /${mark} -->`) ? rest.slice(rest.indexOf(`<!-- /${mark} -->`)) : `<!-- /${mark} -->\n`;
  writeFileSync(readme, `${head}<!-- ${mark} -->\nRun on ${new Date().toISOString().slice(0, 10)}: ${when}\n\n${text}\n${tail}`);
}
