// Names for jailnet's pods on the simulated FreeBSD host (issue 31): the simulator's
// aardvark-dns (freebsd-sim/src/aardvark.ts) is started, reloaded and left to exit as the
// real one is, on FreeBSD's paths, listening on the network's gateway on the host's bridge.
// What it answers is tested on Linux with the real aardvark (linux-pods-dns.ts). Here: the
// process and its files through a pod's life, status and repair after its death, a start
// that fails (an address no interface holds) changing nothing, and a crash at each host
// command of a pod create with DNS on, then pod rm: no entry, file or process left.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { crashAfter } from './helpers/crash.js';
import { podLab, type PodLab } from './helpers/pods.js';
import { tool } from './helpers/sim.js';
import type { Topology } from '../src/topology/model.js';
import { entriesOf } from '../src/dns/aardvark.js';
import { dropStaleNames } from '../src/dns/dns-check.js';
import { createExecDoor } from '../src/hosts/exec.js';
import { aardvarkBinaries } from '../src/platform.js';

t.setTimeout(600_000);

const filesOf = (lab: PodLab) => path.join(lab.env.JAILNET_RUN_DIR as string, 'aardvark-dns');
const servers = (lab: PodLab) => lab.sim.state().aardvarks ?? [];

async function until(check: () => boolean, ms = 3_000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) if (check()) return true;
  return check();
}

async function dnsNetwork(lab: PodLab, subnet: string): Promise<void> {
  const created = await lab.jailnet(['network', 'create', 'web', '--subnet', subnet, '--dns']);
  if (created.code !== 0) throw new Error(created.stderr);
}

t.test("a pod's names: aardvark-dns started on the gateway, reloaded once per pod, gone with the last", async (t) => {
  const lab = await podLab(t);
  await dnsNetwork(lab, '10.89.40.0/24');
  const first = await lab.jailnet(['pod', 'create', 'p1', '--network', 'web', '--alias', 'www']);
  t.equal(first.code, 0, first.stderr);
  t.match(servers(lab), [{ port: 53, listen: ['10.89.40.1'], networks: ['web'], reloads: 0, dir: filesOf(lab) }], 'one server, on the gateway, in the run directory');
  const [server] = servers(lab);
  t.equal(await fs.readFile(path.join(filesOf(lab), 'aardvark.pid'), 'utf8'), String(server?.pid), 'its pid file');
  t.match(await fs.readFile(path.join(filesOf(lab), 'web'), 'utf8'), /^10\.89\.40\.1\n\S+ 10\.89\.40\.\d+  p1,www,\S+\n$/, "the network's file: the gateway, then the pod's names");
  t.equal((await lab.jailnet(['pod', 'create', 'p2', '--network', 'web'])).code, 0);
  t.match(servers(lab), [{ pid: server?.pid, reloads: 1 }], 'the second pod: one SIGHUP to the same server');
  t.equal((await fs.readFile(path.join(filesOf(lab), 'web'), 'utf8')).split('\n').filter(Boolean).length, 3, 'both pods have a line');
  const topology = JSON.parse((await lab.jailnet(['topology', '--format', 'json'])).stdout) as Topology;
  const address = (pod: string) => (topology.pods.find((p) => p.name === pod)?.attachments[0]?.addresses[0] ?? '').split('/')[0];
  t.match(topology.pods.find((p) => p.name === 'p1')?.attachments, [{ network: 'web', names: ['p1', 'www', /^\S+$/] }], "topology: p1's names, as aardvark's file has them");
  t.match(topology.networks.find((n) => n.name === 'web')?.dns, { domain: 'dns.podman', served: [{ names: ['p1', 'www', /./], addresses: [address('p1')] }, { names: ['p2', /./], addresses: [address('p2')] }] }, 'and every name the network serves');
  t.match((await lab.jailnet(['topology'])).stdout, new RegExp(`^  names \\(dns\\.podman\\): p1,www,\\S+ ${address('p1')}; p2,\\S+ ${address('p2')}$`, 'm'), 'the text says them');
  const status = await lab.jailnet(['status']);
  t.match(status.stdout, new RegExp(`^ok {4}container names for network web: aardvark-dns \\(pid ${server?.pid}\\) serves web$`, 'm'), 'status names the server');

  for (const pod of ['p1', 'p2']) t.equal((await lab.jailnet(['pod', 'rm', pod])).code, 0, `pod rm ${pod}`);
  t.ok(await until(() => servers(lab).length === 0), 'the server exited with its last name');
  t.same(existsSync(filesOf(lab)) ? await fs.readdir(filesOf(lab)) : [], [], 'no file is left');
  t.equal((await lab.jailnet(['network', 'rm', 'web'])).code, 0);
});

t.test('the server killed: status fails, repair starts it again on the same files', async (t) => {
  const lab = await podLab(t);
  await dnsNetwork(lab, '10.89.41.0/24');
  t.equal((await lab.jailnet(['pod', 'create', 'p1', '--network', 'web'])).code, 0);
  const [before] = servers(lab);
  process.kill(before?.pid as number, 'SIGKILL');
  t.ok(await until(() => { try { process.kill(before?.pid as number, 0); return false; } catch { return true; } }), 'killed');
  const status = await lab.jailnet(['status']);
  t.equal(status.code, 1);
  t.match(status.stdout, /^FAIL {2}host: aardvark-dns is not running while containers have names on web — fix: jailnet repair$/m);
  const repaired = await lab.jailnet(['repair']);
  t.equal(repaired.code, 0, repaired.stderr);
  const alive = servers(lab).filter((s) => s.pid !== before?.pid);
  t.match(alive, [{ listen: ['10.89.41.1'], networks: ['web'] }], 'a new server on the same files');
  t.equal((await lab.jailnet(['pod', 'rm', 'p1'])).code, 0);
  t.ok(await until(() => servers(lab).every((s) => s.pid === before?.pid)), 'and it exits with the pod');
});

t.test('a name whose container has no attachment: status names it, repair takes it out and leaves live ones', async (t) => {
  const lab = await podLab(t);
  await dnsNetwork(lab, '10.89.42.0/24');
  t.equal((await lab.jailnet(['pod', 'create', 'p1', '--network', 'web', '--alias', 'www'])).code, 0);
  const file = path.join(filesOf(lab), 'web');
  const live = await fs.readFile(file, 'utf8');
  // What a runtime that never called DEL leaves: a line no attachment record explains.
  const ghost = 'e1'.repeat(32);
  await fs.appendFile(file, `${ghost} 10.89.42.77  ghost,${ghost.slice(0, 12)}\n`);
  const [server] = servers(lab);
  const status = await lab.jailnet(['status']);
  t.equal(status.code, 1);
  t.match(status.stdout, new RegExp(`^FAIL {2}host: aardvark-dns serves names of containers jailnet has no attachment for: ghost \\(container ${ghost.slice(0, 12)} on web\\) — fix: jailnet repair$`, 'm'), 'status names the stale name');
  t.notMatch(status.stdout, /p1 \(container/, 'and not the live pod');
  const repaired = await lab.jailnet(['repair']);
  t.equal(repaired.code, 0, repaired.stderr);
  t.match(repaired.stdout, /^fixed host: aardvark-dns serves names of containers jailnet has no attachment for: ghost/m);
  t.equal(await fs.readFile(file, 'utf8'), live, "the ghost's line gone, p1's kept");
  // The simulated server counts a SIGHUP when it handles it, after repair has returned.
  t.ok(await until(() => servers(lab)[0]?.reloads === (server?.reloads ?? 0) + 1), 'one SIGHUP');
  t.match(servers(lab), [{ pid: server?.pid, reloads: (server?.reloads ?? 0) + 1 }], 'to the server that runs, and one only');
  t.match((await lab.jailnet(['status'])).stdout, /^ok {4}pods' networks match jailnet's records$/m, 'status: clean again');

  // Checked again under the files' lock: a container that has an attachment by then keeps its name.
  const p1 = entriesOf(live)[0]?.containerId as string;
  t.ok(p1, "p1's entry");
  await fs.appendFile(file, `${ghost} 10.89.42.77  ghost,${ghost.slice(0, 12)}\n`);
  const stale = [{ file: 'web', containerId: p1, names: ['p1'] }, { file: 'web', containerId: ghost, names: ['ghost'] }];
  await dropStaleNames(createExecDoor({ env: lab.env }), filesOf(lab), stale, path.join(lab.stateDir, 'attachments'), aardvarkBinaries(lab.env));
  t.equal(await fs.readFile(file, 'utf8'), live, 'told both are stale, it takes only the one without an attachment');
  t.equal((await lab.jailnet(['pod', 'rm', 'p1'])).code, 0);
});

t.test('a server that cannot start (its gateway is on no interface): the pod create fails and changes nothing', async (t) => {
  const lab = await podLab(t);
  await dnsNetwork(lab, '10.89.42.0/24');
  // Another network's file names a gateway the host does not hold: aardvark binds every listen address or none.
  await fs.mkdir(filesOf(lab), { recursive: true });
  await fs.writeFile(path.join(filesOf(lab), 'stale'), '10.99.99.1\nabc 10.99.99.5  ghost\n');
  const created = await lab.jailnet(['pod', 'create', 'p1', '--network', 'web']);
  t.equal(created.code, 1, 'refused');
  t.match(created.stderr, /cannot serve container names.*10\.99\.99\.1:53/);
  t.same(servers(lab), [], 'no server runs');
  t.same((await fs.readdir(filesOf(lab))).sort(), ['stale'], "no line of the pod's was left");
  t.equal((await lab.jailnet(['pod', 'ls'])).stdout.includes('p1'), false, 'and no pod');
  t.equal(lab.sim.state().jails.length, 0, 'no jail');
});

t.test('pod create with DNS on killed after each host command, then pod rm: no entry, file or process left', async (t) => {
  const lab = await podLab(t);
  await dnsNetwork(lab, '10.89.43.0/24');
  // How many host commands a whole create takes, measured once.
  const start = lab.sim.state().commandCount;
  t.equal((await lab.jailnet(['pod', 'create', 'probe', '--network', 'web'])).code, 0);
  const total = lab.sim.state().commandCount - start;
  t.equal((await lab.jailnet(['pod', 'rm', 'probe'])).code, 0);
  t.ok(await until(() => servers(lab).length === 0), 'the probe leaves no server');
  for (let n = 1; n <= total; n++) {
    const crash = await crashAfter(lab.sim, n, lab.launch(['pod', 'create', 'p1', '--network', 'web']));
    const removed = await lab.jailnet(['pod', 'rm', '--force', 'p1']);
    const what = `killed after ${crash.killedAfter ?? '(it finished)'}`;
    t.ok(removed.code === 0 || /no such pod/.test(removed.stderr), `${what}: pod rm: ${removed.stderr}`);
    const gc = await lab.jailnet(['gc']);
    t.equal(gc.code, 0, `${what}: gc: ${gc.stderr}`);
    const left = existsSync(path.join(filesOf(lab), 'web')) ? await fs.readFile(path.join(filesOf(lab), 'web'), 'utf8') : '';
    t.equal(left, '', `${what}: no entry left`);
    t.ok(await until(() => servers(lab).length === 0), `${what}: no server left`);
    t.equal(lab.sim.state().jails.length, 0, `${what}: no jail left`);
  }
});

t.test("the simulated binary's own answers: its version line, and a usage error for anything but run", async (t) => {
  const lab = await podLab(t);
  t.match(await tool(lab.sim, 'aardvark-dns', ['--version']), { code: 0, stdout: 'aardvark-dns 1.17.0\n' }, "clap's version line, FreeBSD's port's version");
  t.match(await tool(lab.sim, 'aardvark-dns', ['--config', '/nonexistent', 'serve']), { code: 2, stdout: '', stderr: /^error: unexpected arguments/ });
  t.match(await tool(lab.sim, 'aardvark-dns', ['--config', '/nonexistent', '-p', '99999', 'run']), { code: 2 }, 'a port out of range');
  t.same(servers(lab), [], 'none of them started a server');
});
