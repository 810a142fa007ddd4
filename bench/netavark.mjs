// jailnet's netavark beside Debian's netavark 1.4 (Rust, netlink), side by side in one run:
//   1. real podman 4.3: `podman run --rm --network N` of a container that runs /bin/true, DNS on
//      (podman's default for a new network), in private hosts (a mount and network namespace
//      each, test/fixtures/private-host.mjs) whose containers.conf differ only in the helper
//      directory: Debian's netavark; jailnet's with jailnetd running in that host; jailnet's
//      without it; jailnet's without it but with [daemon] autostart, so that the first run's
//      calls start it. `--network none` is the baseline: the "network cost" is the difference.
//      As many rounds of the five as there are iterations, interleaved;
//   2. FreeBSD host commands of a second container's setup (one published port) and teardown,
//      through jailnetd, counted in the simulator's log;
//   3. setup and teardown of container #10, #100 and #1000 on one network through jailnetd,
//      on the simulated FreeBSD host (its resident kernel) and on this Linux host for real
//      (bench/scale.mjs's checkpoints; BENCH_PODS=N stops at N).
// Usage (root, Linux, after `npm run build`): node bench/netavark.mjs [iterations] [--write]
// --write replaces the netavark section of bench/README.md. Medians; ratio = jailnet / netavark.
import { chmodSync, copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { privateHost } from '../test/fixtures/private-host.mjs';
import { baseEnv, median, ms, root, scratch, startDaemon, writeResults } from './common.mjs';
import { CHECKPOINTS, probeAtCheckpoints, scaleHost } from './scale.mjs';
import { inBatches } from './common.mjs';

const args = process.argv.slice(2);
const iterations = Number(args.find((a) => /^\d+$/.test(a)) ?? 15);
const write = args.includes('--write');
const DEBIAN = '/usr/lib/podman';
const scalePods = Number(process.env.BENCH_PODS ?? 1000);
const SHIM = path.join(root, 'libexec', 'podman', 'netavark');
const rows = [];
const goals = [];
const scaleRows = [];

function rootfs() {
  const dir = path.join(scratch, 'rootfs');
  mkdirSync(path.join(dir, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(dir, 'bin', 'busybox'));
  chmodSync(path.join(dir, 'bin', 'busybox'), 0o755);
  symlinkSync('busybox', path.join(dir, 'bin', 'true'));
  return dir;
}

/** One private host whose podman finds `netavark` in its own helper directory. */
async function hostWith(mode, netavark, engineEnv = []) {
  const helpers = path.join(scratch, `helpers-${mode}`);
  mkdirSync(helpers);
  symlinkSync(netavark, path.join(helpers, 'netavark'));
  symlinkSync(path.join(DEBIAN, 'aardvark-dns'), path.join(helpers, 'aardvark-dns'));
  const conf = path.join(scratch, `containers-${mode}.conf`);
  writeFileSync(conf, `[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\nenv = ${JSON.stringify(engineEnv)}\nhelper_binaries_dir = ["${helpers}", "${DEBIAN}", "/usr/libexec/podman"]\n[network]\nnetwork_backend = "netavark"\n`);
  const host = await privateHost(conf);
  const env = { PATH: baseEnv.PATH };
  const podman = (...a) => host.run(['podman', ...a], env);
  const made = podman('network', 'create', '--subnet', '10.252.7.0/24', 'jnbench');
  if (made.code !== 0) throw new Error(`${mode}: network create: ${made.stderr}`);
  return { host, podman };
}

/** jailnetd inside the host, on the default socket of its private /run/jailnet. */
async function daemonIn(host) {
  host.spawn([process.execPath, path.join(root, 'bin', 'jailnet.js'), 'daemon'], { PATH: baseEnv.PATH });
  for (let i = 0; i < 100; i++) {
    if (host.run(['test', '-S', '/run/jailnet/jailnetd.sock']).code === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('jailnetd did not start in the private host');
}

async function podmanRuns() {
  const fs = rootfs();
  const shim = path.join(root, 'libexec', 'podman', 'netavark');
  const hosts = {
    netavark: await hostWith('netavark', path.join(DEBIAN, 'netavark')),
    'jailnet, daemon up': await hostWith('up', shim),
    'jailnet, daemon down': await hostWith('down', shim),
    // containers.conf's [engine] env reaches every podman process, the cleanup that conmon
    // starts (and so the teardown) included; JAILNET_CONFIG in one command's env would not.
    'jailnet, autostart': await hostWith('autostart', shim, [`JAILNET_CONFIG=${autostartConfig()}`]),
  };
  await daemonIn(hosts['jailnet, daemon up'].host);
  const times = { none: [], netavark: [], 'jailnet, daemon up': [], 'jailnet, daemon down': [], 'jailnet, autostart': [] };
  let firstAutostarted;
  try {
    for (let i = -1; i < iterations; i++) {
      for (const mode of Object.keys(times)) {
        const { podman } = hosts[mode === 'none' ? 'netavark' : mode];
        const started = process.hrtime.bigint();
        const r = podman('run', '--rm', '--network', mode === 'none' ? 'none' : 'jnbench', '--rootfs', fs, '/bin/true');
        if (r.code !== 0) throw new Error(`podman run (${mode}): ${r.stderr}`);
        // Round -1 warms every implementation up (page cache, the daemon's JIT) and is not
        // counted; with autostart it is the run whose calls start jailnetd, reported apart.
        if (i >= 0) times[mode].push(ms(started));
        else if (mode === 'jailnet, autostart') firstAutostarted = ms(started);
      }
    }
  } finally {
    for (const { host } of Object.values(hosts)) await host.stop();
  }
  const cost = (mode) => median(times[mode]) - median(times.none);
  for (const mode of Object.keys(times)) rows.push({ what: `podman run --rm --network ${mode === 'none' ? 'none' : `N (${mode})`}`, value: median(times[mode]), unit: 'ms', ratio: mode.startsWith('jailnet') ? cost(mode) / cost('netavark') : undefined });
  const figure = (mode) => `${cost(mode).toFixed(0)} ms vs ${cost('netavark').toFixed(0)} ms (${(cost(mode) / cost('netavark')).toFixed(2)}×)`;
  goals.push({ text: 'podman run network cost, jailnetd up, ≤ 1.0× netavark 1.4', figure: figure('jailnet, daemon up'), met: cost('jailnet, daemon up') <= cost('netavark') });
  goals.push({ text: 'podman run network cost, jailnetd down, ≤ 2× netavark 1.4', figure: figure('jailnet, daemon down'), met: cost('jailnet, daemon down') <= 2 * cost('netavark') });
  rows.push({ what: 'podman run --rm --network N (jailnet, autostart), the first run: its calls start jailnetd', value: firstAutostarted, unit: 'ms' });
  goals.push({ text: 'podman run network cost, jailnetd not enabled but [daemon] autostart on, ≤ 2× netavark 1.4', figure: figure('jailnet, autostart'), met: cost('jailnet, autostart') <= 2 * cost('netavark') });
}

/** jailnet.conf with [daemon] autostart on (the FreeBSD default; off on Linux unless asked). */
function autostartConfig() {
  const file = path.join(scratch, 'jailnet-autostart.conf');
  writeFileSync(file, '[daemon]\nautostart = yes\nidle_exit = 600\n');
  return file;
}

/** netavark's NetworkOptions for one container on the bench network, with one published port. */
function options(id, address, hostPort) {
  const network = { name: 'web', id: 'e'.repeat(64), driver: 'bridge', network_interface: 'podman1', subnets: [{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }], ipv6_enabled: false, internal: false, dns_enabled: false, ipam_options: { driver: 'host-local' } };
  return JSON.stringify({ container_id: id, container_name: id.slice(0, 12), port_mappings: [{ host_ip: '', container_port: 80, host_port: hostPort, range: 1, protocol: 'tcp' }], networks: [{ name: 'web', static_ips: [address], interface_name: 'eth0' }], network_info: { web: network } });
}

async function freebsdCommands() {
  const { dir, host, socket, daemon } = await scaleHost('netavark-commands', { resident: false });
  const env = { ...host.env, JAILNET_SOCKET: socket };
  const netavark = (sub, id, input) => {
    const r = spawnSync(path.join(root, 'libexec', 'podman', 'netavark'), ['--config', path.join(dir, 'run'), sub, id], { env, input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`netavark ${sub}: ${r.stdout}${r.stderr}`);
  };
  try {
    const [first, second] = ['a'.repeat(64), 'b'.repeat(64)];
    for (const id of [first, second]) host.tool('jail', ['-c', `name=${id}`, 'path=/', 'vnet', 'persist']);
    netavark('setup', first, options(first, '10.89.0.2', 8080));
    const before = host.sim.log().length;
    netavark('setup', second, options(second, '10.89.0.3', 8081));
    const setup = host.sim.log().length - before;
    netavark('teardown', second, options(second, '10.89.0.3', 8081));
    const teardown = host.sim.log().length - before - setup;
    rows.push({ what: 'FreeBSD host commands, second container setup (one published port)', value: setup, unit: 'commands' }, { what: 'FreeBSD host commands, its teardown', value: teardown, unit: 'commands' });
    goals.push({ text: 'FreeBSD setup ≤ 12 host commands, teardown ≤ 4', figure: `${setup} / ${teardown}`, met: setup <= 12 && teardown <= 4 });
  } finally {
    daemon.kill('SIGTERM');
  }
}

/** One netavark call as podman makes it, without blocking this process (several run at once while filling). */
function netavarkAsync(args, env, input) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(SHIM, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ ms: ms(started), result: out }) : reject(new Error(`netavark ${args.join(' ')}: ${out}`))));
    child.stdin.end(input);
  });
}

/** Containers on one network for probeAtCheckpoints: `ns(i)` names a container's jail or netns, `address(i)` its address in 10.96.0.0/20. */
function netavarkPods(env, configDir, ns, make, unmake) {
  const index = (i) => (i === 'probe' ? 4000 : i);
  const address = (i) => `10.96.${Math.floor((index(i) + 2) / 256)}.${(index(i) + 2) % 256}`;
  const id = (i) => `c${String(index(i)).padStart(5, '0')}`.repeat(11).slice(0, 64);
  const network = { name: 'jnbscale', id: 'd'.repeat(64), driver: 'bridge', network_interface: 'jnbnv0', subnets: [{ subnet: '10.96.0.0/20', gateway: '10.96.0.1' }], ipv6_enabled: false, internal: false, dns_enabled: false, ipam_options: { driver: 'host-local' } };
  const input = (i) => JSON.stringify({ container_id: id(i), container_name: `c${index(i)}`, port_mappings: [{ host_ip: '', container_port: 80, host_port: 20000 + index(i), range: 1, protocol: 'tcp' }], networks: [{ name: 'jnbscale', static_ips: [address(i)], interface_name: 'eth0' }], network_info: { jnbscale: network } });
  const up = new Set();
  return {
    up,
    prepare: (i) => make(i),
    add: async (i) => {
      const r = await netavarkAsync(['--config', configDir, 'setup', ns(i)], env, input(i));
      up.add(i);
      return r;
    },
    remove: async (i) => {
      const r = await netavarkAsync(['--config', configDir, 'teardown', ns(i)], env, input(i));
      up.delete(i);
      return r;
    },
    dispose: (i) => unmake(i),
  };
}

async function scaleFreebsd() {
  const { dir, host, kernel, socket, daemon } = await scaleHost('netavark-scale-freebsd');
  const jail = (i) => `jnbn${i}`;
  const pods = netavarkPods({ ...host.env, JAILNET_SOCKET: socket }, path.join(dir, 'run'), jail, (i) => host.tool('jail', ['-c', `name=${jail(i)}`, 'path=/', 'vnet', 'persist']), (i) => host.tool('jail', ['-r', jail(i)]));
  try {
    const { rows: found } = await probeAtCheckpoints({ ...pods, commandCount: () => host.sim.log().length }, scalePods);
    scaleRows.push(...found.map((r) => ({ ...r, where: 'FreeBSD (simulator)' })));
  } finally {
    daemon.kill('SIGTERM');
    await kernel.stop();
  }
}

/** On this host: one named netns per container, the bridge jnbnv0, jailnetd in this namespace. */
async function scaleLinux() {
  const socket = path.join(scratch, 'netavark-scale-linux.sock');
  const daemon = await startDaemon(socket);
  const netns = (i) => `jnbn${i}`;
  const pods = netavarkPods({ ...baseEnv, JAILNET_SOCKET: socket }, path.join(scratch, 'netavark-scale-run'), (i) => `/var/run/netns/${netns(i)}`, (i) => spawnSync('ip', ['netns', 'add', netns(i)]), (i) => spawnSync('ip', ['netns', 'del', netns(i)]));
  try {
    const { rows: found } = await probeAtCheckpoints(pods, scalePods);
    scaleRows.push(...found.map((r) => ({ ...r, where: 'Linux' })));
  } finally {
    const left = [...pods.up];
    await inBatches(left.length, 4, (n) => pods.remove(left[n]).catch(() => undefined));
    for (let i = 0; i < Math.min(scalePods, CHECKPOINTS.at(-1)); i++) spawnSync('ip', ['netns', 'del', netns(i)]);
    spawnSync('ip', ['netns', 'del', netns('probe')]);
    daemon.kill('SIGTERM');
  }
}

function scaleGoals() {
  for (const where of new Set(scaleRows.map((r) => r.where))) {
    const mine = scaleRows.filter((r) => r.where === where);
    const first = mine[0];
    const last = mine.at(-1);
    if (!first || !last || first === last) continue;
    const ratio = last.ADD / first.ADD;
    goals.push({ text: `${where}: setup of container #${last.pod} ≤ 1.2× container #${first.pod}`, figure: `${last.ADD.toFixed(1)} vs ${first.ADD.toFixed(1)} ms (${ratio.toFixed(2)}×)`, met: ratio <= 1.2 });
  }
}

function table() {
  const fmt = (v, unit) => (unit === 'commands' ? String(v) : v.toFixed(1));
  const lines = ['| what | unit | measured | network cost / netavark 1.4 |', '|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.what} | ${r.unit} | ${fmt(r.value, r.unit)} | ${r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`} |`);
  if (scaleRows.length > 0) {
    lines.push('', '| where | container # | setup ms | teardown ms | host commands (setup / teardown) |', '|---|---|---|---|---|');
    for (const r of scaleRows) lines.push(`| ${r.where} | ${r.pod} | ${r.ADD.toFixed(1)} | ${r.DEL.toFixed(1)} | ${r.commands ? `${r.commands.ADD} / ${r.commands.DEL}` : '—'} |`);
  }
  lines.push('', '| goal | measured | met |', '|---|---|---|');
  for (const g of goals) lines.push(`| ${g.text} | ${g.figure} | ${g.met ? 'yes' : 'no'} |`);
  return lines.join('\n');
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('bench/netavark.mjs needs root (namespaces, podman)');
  try {
    await podmanRuns();
    await freebsdCommands();
    await scaleFreebsd();
    await scaleLinux();
    scaleGoals();
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const text = table();
  console.log(text);
  if (write) writeResults('netavark', `${iterations} rounds, Node ${process.version}, medians.`, text);
}

await main();
