// A crash with container names on, through the two doors podman runs on the simulated
// FreeBSD host (issue 31): the CNI chain of a network with the dnsname plugin (`cni add`
// and `cni del`), and the netavark executable's setup with dns_enabled. Each is killed
// right after each of its host commands (the aardvark-dns start included), then cleaned as
// podman would (DEL, teardown): no name in aardvark's files, no aardvark-dns process, no
// record, and the host as it was before.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { crashAfter } from './helpers/crash.js';
import { NETAVARK, netavark, networkOptions, type NetworkSpec } from './helpers/netavark.js';
import { hostView, podHost, type PodHost } from './helpers/podnet.js';
import { JAILNET, run } from './helpers/run.js';

t.setTimeout(900_000);

const ID = 'c3'.repeat(32);
const JAIL = 'ctr1';

const hostState = (h: PodHost) => hostView(h.sim.state());

/** Every record, cache entry and aardvark network file jailnet or netavark left. */
async function leftovers(h: PodHost, aardvarkDirs: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const dir of [...['bridge', 'portmap', 'firewall', 'tuning'].map((p) => path.join(h.recordsDir, p)), h.cacheDir, ...aardvarkDirs]) {
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    found.push(...names.filter((n) => n.endsWith('.json') || !dir.startsWith(h.recordsDir)).map((n) => path.join(path.basename(dir), n)));
  }
  return found;
}

async function serversGone(h: PodHost): Promise<boolean> {
  for (const deadline = Date.now() + 3_000; Date.now() < deadline; await sleep(50)) if ((h.sim.state().aardvarks ?? []).length === 0) return true;
  return (h.sim.state().aardvarks ?? []).length === 0;
}

t.test('the CNI chain with dnsname: ADD killed after each host command, then DEL; DEL killed, then DEL again', async (t) => {
  const h = await podHost(t);
  await h.jail(JAIL);
  const created = await h.cli(['network', 'create', 'web', '--subnet', '10.89.50.0/24', '--dns']);
  t.equal(created.code, 0, created.stderr);
  const names = path.join(h.env.JAILNET_RUN_DIR as string, 'aardvark-dns');
  const cni = (command: string) => ['cni', command, '--network', 'web', '--container-id', ID, '--netns', JAIL, '--args', 'K8S_POD_NAME=web1'];
  const launch = (args: string[]) => (extra: Record<string, string>, options: Parameters<typeof run>[4]) => run(process.execPath, [JAILNET, '--config', h.env.JAILNET_CONFIG as string, ...args], { ...h.env, ...extra }, '', options);
  // Once before: what a first ADD does once (the firewall's first look, the bridge) is done.
  t.equal((await h.cli(cni('add'))).code, 0);
  t.match(await fs.readFile(path.join(names, 'web'), 'utf8'), /^10\.89\.50\.1\n\S+ 10\.89\.50\.\d+  web1,/, "ADD wrote the container's name");
  t.equal((await h.cli(cni('del'))).code, 0);
  t.ok(await serversGone(h), 'DEL: the server exited with its last name');
  const initial = hostState(h);
  t.same(await leftovers(h, [names]), [], 'nothing left after a clean ADD and DEL');

  for (const command of ['add', 'del'] as const) {
    const start = h.sim.state().commandCount;
    t.equal((await h.cli(cni('add'))).code, 0);
    const afterAdd = h.sim.state().commandCount;
    t.equal((await h.cli(cni('del'))).code, 0);
    const total = command === 'add' ? afterAdd - start : h.sim.state().commandCount - afterAdd;
    for (let n = 1; n <= total; n++) {
      if (command === 'del') t.equal((await h.cli(cni('add'))).code, 0, 'ADD before the DEL that is killed');
      const crash = await crashAfter(h.sim, n, launch(cni(command)));
      const what = `${command} killed after ${crash.killedAfter ?? '(it finished)'}`;
      const del = await h.cli(cni('del'));
      t.equal(del.code, 0, `${what}: DEL: ${del.stderr}`);
      t.ok(await serversGone(h), `${what}: no aardvark-dns left`);
      t.same(await leftovers(h, [names]), [], `${what}: no name, record or cache entry left`);
      t.same(hostState(h), initial, `${what}: the host as before`);
    }
  }
});

t.test('netavark setup with dns_enabled killed after each host command, then teardown', async (t) => {
  const h = await podHost(t);
  await h.jail(ID);
  const aardvark = (h.env.JAILNET_TOOL_PATH as string).split(':').map((dir) => path.join(dir, 'aardvark-dns')).find((file) => existsSync(file));
  t.ok(aardvark, "the simulator's aardvark-dns");
  const configDir = path.join(h.dir, 'networks-run');
  const globals = ['--config', configDir, '--rootless=false', `--aardvark-binary=${aardvark}`];
  const web: NetworkSpec = { name: 'web', bridge: 'podman1', dns: true, subnets: [{ subnet: '10.89.51.0/24', gateway: '10.89.51.1' }] };
  const input = JSON.stringify(networkOptions(ID, 'ctr-a', [{ network: web, ips: ['10.89.51.2'] }], [{ container_port: 80, host_port: 8080 }], 'array', ['www']));
  const names = path.join(configDir, 'aardvark-dns');
  t.equal((await netavark([...globals, 'setup', ID], h.env, input)).code, 0);
  t.match(await fs.readFile(path.join(names, 'web'), 'utf8'), /^10\.89\.51\.1\n\S+ 10\.89\.51\.2  ctr-a,www,/, "setup wrote the container's names");
  t.equal((await netavark([...globals, 'teardown', ID], h.env, input)).code, 0);
  t.ok(await serversGone(h), 'teardown: the server exited with its last name');
  const initial = hostState(h);
  const start = h.sim.state().commandCount;
  t.equal((await netavark([...globals, 'setup', ID], h.env, input)).code, 0);
  const total = h.sim.state().commandCount - start;
  t.equal((await netavark([...globals, 'teardown', ID], h.env, input)).code, 0);
  const launch = (extra: Record<string, string>, options: Parameters<typeof run>[4]) => run(NETAVARK, [...globals, 'setup', ID], { ...h.env, ...extra }, input, options);
  for (let n = 1; n <= total; n++) {
    const { killedAfter } = await crashAfter(h.sim, n, launch);
    const what = `setup killed after ${killedAfter ?? '(it finished)'}`;
    const down = await netavark([...globals, 'teardown', ID], h.env, input);
    t.equal(down.code, 0, `${what}: teardown: ${down.stdout}`);
    t.ok(await serversGone(h), `${what}: no aardvark-dns left`);
    t.same(await leftovers(h, [names]), [], `${what}: no name, record or cache entry left`);
    t.same(hostState(h), initial, `${what}: the host as before`);
  }
});
