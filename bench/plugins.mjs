#!/usr/bin/env node
// jailnet's CNI plugins beside the reference plugins (Debian's containernetworking-plugins),
// side by side in one run, every call a cold process as a runtime makes it:
//   1. each plugin's VERSION, and host-local's ADD and DEL, through the shim with jailnetd up
//      and down, vs the reference plugin of the same name;
//   2. podman's default chain (bridge+host-local, portmap, firewall, tuning; 0.4.0) ADD+DEL
//      for one netns, both implementations driven by the runner below;
//   3. real podman: `podman run --rm --network N` of a trivial container, two containers.conf
//      that differ only in cni_plugin_dirs; then jailnet's where no jailnetd runs at the start
//      and [daemon] autostart starts one (in a private host);
//   4. FreeBSD host commands for a second container's ADD and DEL, counted in the simulator's log;
//   5. ADD and DEL of pod #10, #100, #1000 on one network (simulator and Linux; bench/scale.mjs);
//   6. peak RSS of a shim call, and of the daemons holding those pods.
// Usage (root, Linux, after `npm run build`): [BENCH_PODS=N] node bench/plugins.mjs [iterations] [--write]
// --write replaces the results section of bench/README.md. Medians; ratio = jailnet / reference.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { JAILNET_DIR, REFERENCE_DIR, WARMUP, baseEnv, call, defaultChain, median, ms, peakRssMiB, root, runChain, scratch, startDaemon, writeResults } from './common.mjs';
import { CHECKPOINTS, scaleLinux, scaleSimulator, simulatedHost } from './scale.mjs';
import { privateHost } from '../test/fixtures/private-host.mjs';

const args = process.argv.slice(2);
const iterations = Number(args.find((a) => /^\d+$/.test(a)) ?? 15);
const write = args.includes('--write');
/** Pods on one network for part 5 (BENCH_PODS lowers it for a quick run). */
const scalePods = Number(process.env.BENCH_PODS ?? 1000);
const { DAEMON_SOCKET } = await import(path.join(root, 'dist', 'persistent-names.js'));
const PLUGINS = ['bridge', 'host-local', 'portmap', 'firewall', 'tuning', 'loopback'];
const report = [];
const scaleReport = [];
const goals = [];

function row(what, jailnetUp, jailnetDown, reference, unit = 'ms') {
  report.push({ what, up: jailnetUp, down: jailnetDown, reference, unit });
}

function goal(text, figure, met) {
  goals.push({ text, figure, met });
}

/** Part 1: VERSION of every plugin; host-local ADD and DEL. */
function singlePlugins(socket) {
  const modes = { up: { JAILNET_SOCKET: socket }, down: { JAILNET_SOCKET: path.join(scratch, 'none.sock') } };
  const version = { CNI_COMMAND: 'VERSION' };
  for (const plugin of PLUGINS) {
    const times = { up: [], down: [], reference: [] };
    for (let i = 0; i < iterations; i++) {
      times.up.push(call(path.join(JAILNET_DIR, plugin), { ...version, ...modes.up }, '{}').ms);
      times.down.push(call(path.join(JAILNET_DIR, plugin), { ...version, ...modes.down }, '{}').ms);
      times.reference.push(call(path.join(REFERENCE_DIR, plugin), version, '{}').ms);
    }
    row(`${plugin} VERSION`, median(times.up), median(times.down), median(times.reference));
    if (plugin === 'bridge') goal('VERSION through the shim ≤ 5 ms median', `${median(times.up).toFixed(1)} ms`, median(times.up) <= 5);
  }
  const results = { ADD: { up: [], down: [], reference: [] }, DEL: { up: [], down: [], reference: [] }, rss: { up: [], down: [], reference: [] } };
  for (const [mode, file, extra] of [['up', path.join(JAILNET_DIR, 'host-local'), modes.up], ['down', path.join(JAILNET_DIR, 'host-local'), modes.down], ['reference', path.join(REFERENCE_DIR, 'host-local'), {}]]) {
    const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'bench', ipam: { type: 'host-local', dataDir: path.join(scratch, `leases-${mode}`), ranges: [[{ subnet: '10.250.0.0/16' }]] } });
    for (let i = -WARMUP; i < iterations; i++) {
      const env = { ...extra, CNI_CONTAINERID: `c${i}`, CNI_NETNS: '/x', CNI_IFNAME: 'eth0', CNI_PATH: path.dirname(file) };
      const add = call(file, { ...env, CNI_COMMAND: 'ADD' }, conf);
      const del = call(file, { ...env, CNI_COMMAND: 'DEL' }, conf);
      if (i < 0) continue;
      results.ADD[mode].push(add.ms);
      results.rss[mode].push(add.rssKb / 1024);
      results.DEL[mode].push(del.ms);
    }
  }
  for (const op of ['ADD', 'DEL']) row(`host-local ${op}`, median(results[op].up), median(results[op].down), median(results[op].reference));
  row('host-local ADD peak RSS', median(results.rss.up), median(results.rss.down), median(results.rss.reference), 'MiB');
  goal('an ADD through the daemon within 2× of the reference plugin\'s cold ADD', `${(median(results.ADD.up) / median(results.ADD.reference)).toFixed(2)}×`, median(results.ADD.up) <= 2 * median(results.ADD.reference));
  goal('shim RSS ≤ 10 MB', `${median(results.rss.up).toFixed(1)} MiB`, median(results.rss.up) <= 10);
}


/** Part 2: podman's default chain, ADD then DEL in one netns, per implementation. */
async function chains(socket) {
  const ns = `jnbench${process.pid}`;
  spawnSync('ip', ['netns', 'add', ns]);
  const times = { up: { ADD: [], DEL: [] }, down: { ADD: [], DEL: [] }, reference: { ADD: [], DEL: [] } };
  const setups = [
    ['up', JAILNET_DIR, defaultChain('jnbenchup', 'jnbup0', '10.252.1.0/24', path.join(scratch, 'chain-jnbenchup')), { JAILNET_SOCKET: socket }],
    ['down', JAILNET_DIR, defaultChain('jnbenchdown', 'jnbdown0', '10.252.2.0/24', path.join(scratch, 'chain-jnbenchdown')), { JAILNET_SOCKET: path.join(scratch, 'none.sock') }],
    ['reference', REFERENCE_DIR, defaultChain('jnbenchref', 'jnbref0', '10.252.3.0/24', path.join(scratch, 'chain-jnbenchref')), {}],
  ];
  try {
    for (let i = -WARMUP; i < Math.max(3, Math.ceil(iterations / 2)); i++) {
      for (const [mode, dir, list, extra] of setups) {
        const env = { ...extra, CNI_CONTAINERID: `bench${mode}${i}`, CNI_NETNS: `/var/run/netns/${ns}`, CNI_IFNAME: 'eth0' };
        const portMappings = [{ hostPort: 18990, containerPort: 80, protocol: 'tcp' }];
        const add = await runChain(dir, list, 'ADD', env, { portMappings });
        const del = await runChain(dir, list, 'DEL', env, { prevResult: add.result, portMappings });
        if (i < 0) continue;
        times[mode].ADD.push(add.ms);
        times[mode].DEL.push(del.ms);
      }
    }
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
    for (const [, , list] of setups) spawnSync('ip', ['link', 'del', list.plugins[0].bridge]);
  }
  for (const op of ['ADD', 'DEL']) row(`podman chain ${op}`, median(times.up[op]), median(times.down[op]), median(times.reference[op]));
  const total = (mode) => median(times[mode].ADD) + median(times[mode].DEL);
  goal('podman chain ADD+DEL ≤ 0.8× the reference plugins', `${(total('up') / total('reference')).toFixed(2)}×`, total('up') <= 0.8 * total('reference'));
}

/** Part 3: podman run --rm with jailnet's plugin dir vs the reference dir. */
function podmanRuns(socket) {
  const rootfs = path.join(scratch, 'rootfs');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  symlinkSync('busybox', path.join(rootfs, 'bin', 'true'));
  const nofile = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  const podman = {};
  for (const [mode, dir, subnet] of [['jailnet', JAILNET_DIR, '10.253.1.0/24'], ['reference', REFERENCE_DIR, '10.253.2.0/24']]) {
    const netd = path.join(scratch, `netd-${mode}`);
    mkdirSync(netd);
    const conf = path.join(scratch, `containers-${mode}.conf`);
    writeFileSync(conf, `[containers]\ndefault_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\n[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["${dir}"]\nnetwork_config_dir = "${netd}"\n`);
    const env = { ...baseEnv, CONTAINERS_CONF: conf, JAILNET_SOCKET: socket };
    podman[mode] = (...a) => spawnSync('podman', a, { env, encoding: 'utf8' });
    // DNS off in both: the reference plugins have no dnsname, so podman writes none for them.
    podman[mode]('network', 'create', '--disable-dns', '--subnet', subnet, `jnbench${mode}`);
    // Each config dir would pick the same free bridge name: one per implementation instead.
    const listFile = path.join(netd, `jnbench${mode}.conflist`);
    writeFileSync(listFile, readFileSync(listFile, 'utf8').replace(/"bridge": "cni-podman\d+"/, `"bridge": "jnbpod${mode.slice(0, 3)}0"`));
  }
  const times = { jailnet: [], reference: [], none: [] };
  try {
    for (let i = 0; i < iterations; i++) {
      for (const mode of ['jailnet', 'reference', 'none']) {
        const network = mode === 'none' ? 'none' : `jnbench${mode}`;
        const started = process.hrtime.bigint();
        const r = podman[mode === 'none' ? 'reference' : mode]('run', '--rm', '--network', network, '--rootfs', rootfs, '/bin/true');
        if (r.status !== 0) throw new Error(`podman run (${mode}): ${r.stderr}`);
        times[mode].push(ms(started));
      }
    }
  } finally {
    for (const mode of ['jailnet', 'reference']) {
      podman[mode]('network', 'rm', '-f', `jnbench${mode}`);
      spawnSync('ip', ['link', 'del', `jnbpod${mode.slice(0, 3)}0`]);
    }
  }
  row('podman run --rm (network none)', median(times.none), undefined, median(times.none));
  row('podman run --rm --network N', median(times.jailnet), undefined, median(times.reference));
  const cost = (mode) => median(times[mode]) - median(times.none);
  goal('podman run network cost ≤ 0.8× the reference plugins', `${cost('jailnet').toFixed(0)} ms vs ${cost('reference').toFixed(0)} ms (${(cost('jailnet') / cost('reference')).toFixed(2)}×)`, cost('jailnet') <= 0.8 * cost('reference'));
  return { rootfs, referenceCost: cost('reference') };
}

/**
 * Part 3b: the same podman run where no jailnetd runs at the start and [daemon] autostart is
 * on (FreeBSD's default), so that the first run's calls start it: in a private host (its own
 * mount and network namespace, test/fixtures/private-host.mjs), where containers.conf is the
 * system's and its [engine] env gives every podman process, conmon's cleanup included,
 * jailnet.conf. Its network cost is against `--network none` in the same private host.
 */
async function podmanAutostartRuns({ rootfs, referenceCost }) {
  const jailnetConf = path.join(scratch, 'jailnet-autostart.conf');
  writeFileSync(jailnetConf, '[daemon]\nautostart = yes\n');
  const netd = path.join(scratch, 'netd-autostart');
  mkdirSync(netd);
  const conf = path.join(scratch, 'containers-autostart.conf');
  writeFileSync(conf, `[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nruntime = "runc"\nenv = ["JAILNET_CONFIG=${jailnetConf}"]\n[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["${JAILNET_DIR}"]\nnetwork_config_dir = "${netd}"\n`);
  const host = await privateHost(conf);
  const podman = (...a) => host.run(['podman', ...a], { PATH: baseEnv.PATH });
  const times = { autostart: [], none: [] };
  try {
    const made = podman('network', 'create', '--disable-dns', '--subnet', '10.253.3.0/24', 'jnbenchauto');
    if (made.code !== 0) throw new Error(`network create (autostart): ${made.stderr}`);
    for (let i = 0; i < iterations; i++) {
      for (const mode of ['autostart', 'none']) {
        const started = process.hrtime.bigint();
        const r = podman('run', '--rm', '--network', mode === 'none' ? 'none' : 'jnbenchauto', '--rootfs', rootfs, '/bin/true');
        if (r.code !== 0) throw new Error(`podman run (${mode}): ${r.stderr}`);
        times[mode].push(ms(started));
      }
    }
  } finally {
    await host.stop();
  }
  const cost = median(times.autostart) - median(times.none);
  row('podman run --rm --network N, no jailnetd at the start, [daemon] autostart (its first run)', undefined, times.autostart[0], undefined);
  row('podman run --rm --network N, no jailnetd at the start, [daemon] autostart', undefined, median(times.autostart), undefined);
  goal('podman run network cost without an enabled jailnetd ([daemon] autostart) ≤ 2× the reference plugins', `${cost.toFixed(0)} ms vs ${referenceCost.toFixed(0)} ms (${(cost / referenceCost).toFixed(2)}×)`, cost <= 2 * referenceCost);
}

/**
 * Part 4: host commands of a second container's ADD and DEL on the simulated FreeBSD host,
 * through the shims with jailnetd up (the first container's calls taught the daemon what it
 * keeps of the host) and with it down (each plugin a process of its own, knowing nothing).
 */
async function freebsdCommands() {
  const dir = path.join(scratch, 'freebsd');
  mkdirSync(dir);
  const host = await simulatedHost(dir);
  const socket = path.join(scratch, 'freebsd-commands.sock');
  const daemon = await startDaemon(socket, host.env);
  const list = defaultChain('podman', 'cni-podman0', '10.88.0.0/24', path.join(dir, 'leases'));
  const counts = {};
  try {
    for (const [mode, via] of [['up', socket], ['down', path.join(scratch, 'none.sock')]]) {
      const env = (ctr) => ({ ...host.env, JAILNET_SOCKET: via, CNI_CONTAINERID: `${mode}${ctr}${'a'.repeat(60)}`, CNI_NETNS: `${mode}${ctr}`, CNI_IFNAME: 'eth0' });
      const ports = (ctr) => ({ portMappings: [{ hostPort: 8080 + ctr, containerPort: 80, protocol: 'tcp' }] });
      const results = [];
      let added = 0;
      for (const ctr of [0, 1]) {
        host.tool('jail', ['-c', `name=${mode}${ctr}`, 'path=/', 'vnet', 'persist']);
        const before = host.sim.log().length;
        results.push((await runChain(JAILNET_DIR, list, 'ADD', env(ctr), ports(ctr))).result);
        added = host.sim.log().length - before;
      }
      const before = host.sim.log().length;
      await runChain(JAILNET_DIR, list, 'DEL', env(1), { prevResult: results[1], ...ports(1) });
      counts[mode] = { ADD: added, DEL: host.sim.log().length - before };
      await runChain(JAILNET_DIR, list, 'DEL', env(0), { prevResult: results[0], ...ports(0) });
    }
  } finally {
    daemon.kill('SIGTERM');
  }
  for (const op of ['ADD', 'DEL']) {
    report.push({ what: `FreeBSD host commands, 2nd container ${op} (dfr: ${op === 'ADD' ? 16 : 3})`, up: counts.up[op], down: counts.down[op], reference: op === 'ADD' ? 16 : 3, unit: 'commands' });
  }
  const { ADD, DEL } = counts.up;
  goal('FreeBSD host commands, second container with a published port: ADD ≤ 12, DEL ≤ 3 (daemon up)', `ADD ${ADD}, DEL ${DEL} (daemon down: ${counts.down.ADD}, ${counts.down.DEL})`, ADD <= 12 && DEL <= 3);
}

/** Parts 5 and 6: pod #10, #100, #1000 on one network, and the daemons' RSS holding them. */
async function scale(socket, daemon) {
  const simulated = await scaleSimulator(scalePods);
  const linux = await scaleLinux(scalePods, socket);
  const ratios = [];
  for (const [where, rows] of [['FreeBSD simulator', simulated.rows], ['Linux', linux]]) {
    for (const r of rows) scaleReport.push({ where, ...r, first: rows[0] });
    const last = rows.at(-1);
    ratios.push(last?.pod === 1000 ? `${where} ${(last.ADD / rows[0].ADD).toFixed(2)}×` : `${where}: pod #1000 not reached (BENCH_PODS=${scalePods})`);
  }
  const met = [simulated.rows, linux].every((rows) => rows.at(-1)?.pod === 1000 && rows.at(-1).ADD <= 1.2 * rows[0].ADD);
  goal('pod #1000 ADD ≤ 1.2× pod #10 ADD', ratios.join('; '), met);
  const holding = scalePods >= 1000 ? '1,000' : String(scalePods);
  const linuxRss = peakRssMiB(daemon);
  const mib = (v) => (Number.isNaN(v) ? 'died during the run (the shims fell back)' : `${v.toFixed(1)} MiB`);
  goal(`daemon RSS ≤ 100 MB with 1,000 pods (peak, daemon holding ${holding})`, `simulator's daemon ${mib(simulated.daemonRssMiB)}; this run's Linux daemon ${mib(linuxRss)}`, scalePods >= 1000 && Math.max(simulated.daemonRssMiB, linuxRss) <= 100);
}

function scaleTable() {
  const lines = ['| host | pod # | ADD ms | DEL ms | ADD / pod #10 | DEL / pod #10 | host commands ADD, DEL |', '|---|---|---|---|---|---|---|'];
  for (const r of scaleReport) {
    const commands = r.commands ? `${r.commands.ADD}, ${r.commands.DEL}` : '—';
    lines.push(`| ${r.where} | ${r.pod} | ${r.ADD.toFixed(1)} | ${r.DEL.toFixed(1)} | ${(r.ADD / r.first.ADD).toFixed(2)} | ${(r.DEL / r.first.DEL).toFixed(2)} | ${commands} |`);
  }
  return lines.join('\n');
}

function table() {
  const fmt = (v, unit) => (v === undefined ? '—' : unit === 'commands' ? String(v) : v.toFixed(1));
  const lines = ['| what | unit | jailnet, daemon up | jailnet, daemon down | reference | ratio (up / reference) |', '|---|---|---|---|---|---|'];
  for (const r of report) lines.push(`| ${r.what} | ${r.unit} | ${fmt(r.up, r.unit)} | ${fmt(r.down, r.unit)} | ${fmt(r.reference, r.unit)} | ${r.up !== undefined && r.reference ? (r.up / r.reference).toFixed(2) : '—'} |`);
  lines.push('', scaleTable(), '', '| goal | measured | met |', '|---|---|---|');
  for (const g of goals) lines.push(`| ${g.text} | ${g.figure} | ${g.met ? 'yes' : 'no'} |`);
  return lines.join('\n');
}

async function main() {
  if (process.getuid?.() !== 0) throw new Error('bench/plugins.mjs needs root (netns, bridges, podman)');
  // The default socket: podman's cleanup process (conmon) does not inherit JAILNET_SOCKET.
  const socket = DAEMON_SOCKET;
  const daemon = await startDaemon(socket);
  try {
    singlePlugins(socket);
    await chains(socket);
    await podmanAutostartRuns(podmanRuns(socket));
    await freebsdCommands();
    await scale(socket, daemon);
  } finally {
    daemon.kill('SIGTERM');
    rmSync(scratch, { recursive: true, force: true });
  }
  const text = table();
  console.log(text);
  if (write) {
    writeResults('results', `${iterations} iterations, Node ${process.version}, medians in ms unless the unit says otherwise.`, text);
  }
}

if (existsSync(REFERENCE_DIR)) await main();
else throw new Error(`the reference plugins are not installed in ${REFERENCE_DIR} (apt install containernetworking-plugins)`);
