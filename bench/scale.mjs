// Part 5 and 6 of the benchmark: does a call cost more when a network already holds many pods?
// One network is filled to 9, 99 and 999 pods; at each point a probe pod is added and deleted
// (one untimed round, then SAMPLES timed ones), through the shims with jailnetd up. On the
// simulated FreeBSD host (its state held by the simulator's resident kernel) the probe's host
// commands are counted too; on Linux everything is real.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { JAILNET_DIR, baseEnv, defaultChain, inBatches, median, peakRssMiB, root, runChain, scratch, startDaemon } from './common.mjs';

const SAMPLES = 9;
/** Pods set up at once while filling: the daemon serves calls concurrently. */
const FILL_WIDTH = 4;
export const CHECKPOINTS = [10, 100, 1000];

/** A FreeBSD host in the simulator, set up as podman's pf.conf expects (forwarding, pf, anchors). */
export async function simulatedHost(dir) {
  const { createSimulator, SIM_BIN } = await import(path.join(root, 'test', 'freebsd-sim', 'dist', 'index.js'));
  const sim = await createSimulator(path.join(dir, 'sim'));
  const config = path.join(dir, 'jailnet.conf');
  writeFileSync(config, `[runtime]\nstate_dir = ${dir}/state\ncni_plugin_dirs = ${JAILNET_DIR}\n`);
  const env = { ...baseEnv, ...sim.env, JAILNET_HOST: 'freebsd', JAILNET_CONFIG: config };
  const tool = (name, a, input = '') => {
    const r = spawnSync(path.join(SIM_BIN, name), a, { env, input, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`simulated ${name} ${a.join(' ')}: ${r.stderr}`);
  };
  tool('sysctl', ['net.inet.ip.forwarding=1']);
  tool('sysctl', ['net.pf.filter_local=1']);
  tool('pfctl', ['-e']);
  tool('pfctl', ['-f', '-'], 'nat on vtnet0 inet from <cni-nat> to any -> (vtnet0)\nrdr-anchor "cni-rdr/*"\nnat-anchor "cni-rdr/*"\nanchor "jailnet-fw"\ntable <cni-nat>\n');
  return { sim, env, config, tool };
}

/**
 * Fills one network pod by pod and probes it at each checkpoint; `pods` says how a pod is
 * made, named and removed. Returns one row per checkpoint reached.
 */
export async function probeAtCheckpoints(pods, total) {
  const rows = [];
  let filled = 0;
  for (const checkpoint of CHECKPOINTS.filter((k) => k <= total)) {
    await inBatches(checkpoint - 1 - filled, FILL_WIDTH, (n) => {
      pods.prepare(filled + n);
      return pods.add(filled + n);
    });
    filled = checkpoint - 1;
    const times = { ADD: [], DEL: [] };
    let commands;
    for (let s = -1; s < SAMPLES; s++) {
      pods.prepare('probe');
      const before = pods.commandCount?.();
      const add = await pods.add('probe');
      const between = pods.commandCount?.();
      const del = await pods.remove('probe', add.result);
      const after = pods.commandCount?.();
      pods.dispose('probe');
      if (s < 0) continue;
      times.ADD.push(add.ms);
      times.DEL.push(del.ms);
      if (before !== undefined) commands = { ADD: between - before, DEL: after - between };
    }
    rows.push({ pod: checkpoint, ADD: median(times.ADD), DEL: median(times.DEL), commands });
  }
  return { rows, filled };
}

/**
 * A simulated FreeBSD host in `scratch/<name>` with jailnetd serving it. `resident`: its state
 * in the simulator's resident kernel, for filling with pods (with the state file, every
 * simulated command would parse and write all of it, a cost of the simulator's that grows
 * with the pods); stop it with kernel.stop().
 */
export async function scaleHost(name, { resident = true } = {}) {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  const host = await simulatedHost(dir);
  const { startKernel } = await import(path.join(root, 'test', 'freebsd-sim', 'dist', 'index.js'));
  const kernel = resident ? await startKernel(host.sim.dir) : { stop: async () => undefined };
  const socket = path.join(scratch, `${name}.sock`);
  const daemon = await startDaemon(socket, host.env);
  return { dir, host, kernel, socket, daemon };
}

/** Part 5 on the simulated FreeBSD host, and part 6: the RSS of the daemon that served it. */
export async function scaleSimulator(total) {
  const { dir, host, kernel, socket, daemon } = await scaleHost('scale-freebsd');
  const list = defaultChain('podman', 'cni-podman0', '10.88.0.0/20', path.join(dir, 'leases'));
  const pods = {
    prepare: (i) => host.tool('jail', ['-c', `name=jnbs${i}`, 'path=/', 'vnet', 'persist']),
    add: (i) => runChain(JAILNET_DIR, list, 'ADD', podEnv(i), { portMappings: portMappings(i) }),
    remove: (i, prevResult) => runChain(JAILNET_DIR, list, 'DEL', podEnv(i), { prevResult, portMappings: portMappings(i) }),
    dispose: (i) => host.tool('jail', ['-r', `jnbs${i}`]),
    commandCount: () => host.sim.log().length,
  };
  const podEnv = (i) => ({ ...host.env, JAILNET_SOCKET: socket, CNI_CONTAINERID: `jnbscale${i}`, CNI_NETNS: `jnbs${i}`, CNI_IFNAME: 'eth0' });
  try {
    const { rows } = await probeAtCheckpoints(pods, total);
    return { rows, daemonRssMiB: peakRssMiB(daemon) };
  } finally {
    daemon.kill('SIGTERM');
    await kernel.stop();
  }
}

const portMappings = (i) => [{ hostPort: i === 'probe' ? 19999 : 20000 + i, containerPort: 80, protocol: 'tcp' }];

/** Part 5 on this Linux host, for real: one named netns per pod on one bridge. */
export async function scaleLinux(total, socket) {
  const list = defaultChain('jnbscale', 'jnbscale0', '10.96.0.0/20', path.join(scratch, 'scale-linux-leases'));
  const netns = (i) => `jnbs${i}`;
  const podEnv = (i) => ({ JAILNET_SOCKET: socket, CNI_CONTAINERID: `jnbscale${i}`, CNI_NETNS: `/var/run/netns/${netns(i)}`, CNI_IFNAME: 'eth0' });
  const results = new Map();
  const namespaces = new Set();
  const pods = {
    prepare(i) {
      namespaces.add(i);
      spawnSync('ip', ['netns', 'add', netns(i)]);
    },
    async add(i) {
      const add = await runChain(JAILNET_DIR, list, 'ADD', podEnv(i), { portMappings: portMappings(i) });
      results.set(i, add.result);
      return add;
    },
    async remove(i, prevResult) {
      const del = await runChain(JAILNET_DIR, list, 'DEL', podEnv(i), { prevResult: prevResult ?? results.get(i), portMappings: portMappings(i) });
      results.delete(i);
      return del;
    },
    dispose(i) {
      namespaces.delete(i);
      spawnSync('ip', ['netns', 'del', netns(i)]);
    },
  };
  try {
    return (await probeAtCheckpoints(pods, total)).rows;
  } finally {
    // Every pod set up so far, the probe included if a failure left it behind.
    const left = [...results.keys()];
    await inBatches(left.length, FILL_WIDTH, (n) => pods.remove(left[n]).catch(() => undefined));
    // The namespaces' own cleanup: DEL does not remove a runtime's netns.
    for (const i of namespaces) spawnSync('ip', ['netns', 'del', netns(i)]);
    spawnSync('ip', ['link', 'del', 'jnbscale0']);
  }
}
