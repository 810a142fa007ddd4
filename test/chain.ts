// The chain runner behind `jailnet cni …`, driven through the CLI with a recording
// test plugin beside the real host-local: what each plugin receives, in which order,
// and what the result cache holds.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { snapshotDir } from './helpers/leases.js';
import { PLUGIN_DIR, ROOT, jailnet } from './helpers/run.js';
import type { TestDir } from './helpers/sim.js';

const FIXTURE_PLUGINS = path.join(ROOT, 'test', 'fixtures', 'plugins');

interface Recorded {
  env: Record<string, string>;
  config: Record<string, any>;
}

type MakeList = (ipamDir: string) => Record<string, unknown>;

/** A private config dir, state dir and lease dir per call; the list is built for that lease dir. */
async function setup(t: TestDir, makeList: MakeList, subdir = 'env') {
  const dir = path.join(t.testdir({ [subdir]: { 'net.d': {}, state: {}, ipam: {} } }), subdir);
  const list = makeList(path.join(dir, 'ipam'));
  const log = path.join(dir, 'calls.log');
  const conf = path.join(dir, 'jailnet.conf');
  const netd = path.join(dir, 'net.d');
  await fs.writeFile(path.join(netd, `50-${list.name}.conflist`), JSON.stringify(list));
  await fs.writeFile(
    conf,
    `[runtime]\nstate_dir = ${path.join(dir, 'state')}\ncni_config_dir = ${netd}\ncni_plugin_dirs = ${PLUGIN_DIR},${FIXTURE_PLUGINS}\n`,
  );
  const cli = (args: string[]) => jailnet(['--config', conf, ...args], { RECORDER_LOG: log });
  const calls = async (): Promise<Recorded[]> => {
    const text = await fs.readFile(log, 'utf8').catch(() => '');
    await fs.rm(log, { force: true });
    return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  };
  return { dir, cli, calls, cacheDir: path.join(dir, 'state', 'cni', 'results'), ipamDir: path.join(dir, 'ipam') };
}

function list(ipamDir: string, version = '1.1.0', extra: Record<string, unknown> = {}) {
  return {
    cniVersion: version,
    name: 'chainnet',
    ...extra,
    plugins: [
      { type: 'host-local', ipam: { type: 'host-local', dataDir: ipamDir, ranges: [[{ subnet: '10.88.0.0/24' }]] } },
      { type: 'recorder', capabilities: { portMappings: true }, ifaceName: 'first' },
      { type: 'recorder', capabilities: { mac: true }, ifaceName: 'second' },
    ],
  };
}

t.test('ADD, CHECK, DEL through the chain with the cache', async (t) => {
  const env = await setup(t, (ipam) => list(ipam));
  const ipamDir = env.ipamDir;
  const runtimeConfig = JSON.stringify({ portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], bandwidth: {} });
  const add = await env.cli(['cni', 'add', '--network', 'chainnet', '--container-id', 'c1', '--netns', 'jail1',
    '--args', 'IgnoreUnknown=1;K8S_POD_NAME=web', '--runtime-config', runtimeConfig]);
  t.equal(add.code, 0, add.stderr);
  t.same(add.json.ips, [{ address: '10.88.0.2/24', gateway: '10.88.0.1' }]);
  t.same(add.json.interfaces.map((i: { name: string }) => i.name), ['first', 'second'], 'both chained plugins ran, in order');

  const addCalls = await env.calls();
  t.equal(addCalls.length, 2);
  const [first, second] = addCalls as [Recorded, Recorded];
  t.equal(first.config.name, 'chainnet', 'the list name is injected');
  t.equal(first.config.cniVersion, '1.1.0', 'the list version is injected');
  t.same(first.config.prevResult.ips, [{ address: '10.88.0.2/24', gateway: '10.88.0.1' }], 'prevResult is the previous plugin result');
  t.same(first.config.runtimeConfig, { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] },
    'runtimeConfig holds only the declared capabilities');
  t.notOk('runtimeConfig' in second.config, 'no runtimeConfig for a plugin whose capabilities got no argument');
  t.same(second.config.prevResult.interfaces.map((i: { name: string }) => i.name), ['first']);
  t.match(first.env, {
    CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: 'jail1', CNI_IFNAME: 'eth0', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web',
  });

  const cacheFile = path.join(env.cacheDir, 'chainnet-c1-eth0');
  const stat = await fs.stat(cacheFile);
  t.equal((stat.mode & 0o777).toString(8), '600', 'the cache file is private');
  t.equal(((await fs.stat(env.cacheDir)).mode & 0o777).toString(8), '700', 'the cache directory is private');
  const cached = JSON.parse(await fs.readFile(cacheFile, 'utf8'));
  t.match(cached, { kind: 'cniCacheV1', containerId: 'c1', ifName: 'eth0', networkName: 'chainnet', netns: 'jail1',
    cniArgs: [['IgnoreUnknown', '1'], ['K8S_POD_NAME', 'web']] });
  t.same(cached.result, add.json, 'the cache holds the final result');
  t.equal(JSON.parse(Buffer.from(cached.config, 'base64').toString()).name, 'chainnet', 'the cache holds the list bytes');

  const check = await env.cli(['cni', 'check', '--network', 'chainnet', '--container-id', 'c1', '--netns', 'jail1']);
  t.equal(check.code, 0, check.stderr);
  const checkCalls = await env.calls();
  t.same(checkCalls.map((c) => c.env.CNI_COMMAND), ['CHECK', 'CHECK']);
  t.same(checkCalls[0]?.config.prevResult, add.json, 'CHECK gets the cached result');

  const del = await env.cli(['cni', 'del', '--network', 'chainnet', '--container-id', 'c1', '--netns', 'jail1']);
  t.equal(del.code, 0, del.stderr);
  const delCalls = await env.calls();
  t.same(delCalls.map((c) => c.config.ifaceName), ['second', 'first'], 'DEL runs in reverse');
  t.same(delCalls[0]?.config.prevResult, add.json, 'DEL gets the cached result');
  await t.rejects(fs.stat(cacheFile), 'DEL removed the cache file');
  t.same(Object.keys(await snapshotDir(path.join(ipamDir, 'chainnet'))), ['last_reserved_ip.0', 'lock'], 'the lease was released');

  const again = await env.cli(['cni', 'del', '--network', 'chainnet', '--container-id', 'c1']);
  t.equal(again.code, 0, 'a second DEL succeeds');
  const againCalls = await env.calls();
  t.notOk(againCalls.some((c) => 'prevResult' in c.config), 'without a cache entry, DEL has no prevResult');
  t.equal(againCalls[0]?.env.CNI_NETNS, '', 'an empty netns is passed as an empty string');
});

t.test('a failing plugin: the error reaches the user, nothing is cached', async (t) => {
  const env = await setup(t, (ipam) => {
    const failing = list(ipam, '1.0.0');
    (failing.plugins[2] as Record<string, unknown>).failOn = 'ADD';
    return failing;
  });
  const add = await env.cli(['cni', 'add', '--network', 'chainnet', '--container-id', 'c2', '--netns', 'j']);
  t.equal(add.code, 1);
  t.match(add.stderr, /^jailnet: plugin type="recorder" failed \(add\): try again later \(simulated\): requested by config\n$/,
    'one line naming plugin, message and details');
  await t.rejects(fs.stat(path.join(env.cacheDir, 'chainnet-c2-eth0')), 'no cache entry after a failed ADD');
  const json = await env.cli(['--json', 'cni', 'add', '--network', 'chainnet', '--container-id', 'c3', '--netns', 'j']);
  t.equal(json.json.error.code, 11, 'with --json the plugin error code is kept');
});

t.test('CHECK honours disableCheck and needs 0.4.0', async (t) => {
  const env = await setup(t, (ipam) => list(ipam, '1.0.0', { disableCheck: true }));
  await env.cli(['cni', 'add', '--network', 'chainnet', '--container-id', 'c1', '--netns', 'j']);
  await env.calls();
  const check = await env.cli(['cni', 'check', '--network', 'chainnet', '--container-id', 'c1', '--netns', 'j']);
  t.equal(check.code, 0);
  t.same(await env.calls(), [], 'no plugin was called');

  const old = await setup(t, (ipam) => ({ ...list(ipam, '0.3.1'), name: 'oldnet' }), 'old');
  const refused = await old.cli(['--json', 'cni', 'check', '--network', 'oldnet', '--container-id', 'c1', '--netns', 'j']);
  t.equal(refused.code, 1);
  t.equal(refused.json.error.code, 1, 'CHECK on a 0.3.1 list is an incompatible-version error');
});

t.test('GC deletes stale attachments and passes the valid ones; STATUS asks every plugin', async (t) => {
  const env = await setup(t, (ipam) => list(ipam));
  for (const id of ['keep', 'stale']) {
    const add = await env.cli(['cni', 'add', '--network', 'chainnet', '--container-id', id, '--netns', `j-${id}`]);
    t.equal(add.code, 0, add.stderr);
  }
  await env.calls();
  const gc = await env.cli(['cni', 'gc', '--network', 'chainnet', '--valid', 'keep:eth0']);
  t.equal(gc.code, 0, gc.stderr);
  t.equal(gc.stdout, 'removed chainnet stale eth0\n');
  const calls = await env.calls();
  const dels = calls.filter((c) => c.env.CNI_COMMAND === 'DEL');
  t.same(dels.map((c) => c.env.CNI_CONTAINERID), ['stale', 'stale'], 'the stale attachment got a full DEL');
  t.equal(dels[0]?.env.CNI_NETNS, 'j-stale', 'with the netns from its cache entry');
  const gcs = calls.filter((c) => c.env.CNI_COMMAND === 'GC');
  t.equal(gcs.length, 2, 'every plugin got GC');
  t.same(gcs[0]?.config['cni.dev/valid-attachments'], [{ containerID: 'keep', ifname: 'eth0' }]);
  t.same(await fs.readdir(env.cacheDir), ['chainnet-keep-eth0']);
  const leases = Object.keys(await snapshotDir(path.join(env.ipamDir, 'chainnet'))).filter((n) => n.startsWith('10.'));
  t.same(leases, ['10.88.0.2'], 'only the valid attachment keeps its lease');

  const status = await env.cli(['cni', 'status', '--network', 'chainnet']);
  t.equal(status.code, 0, status.stderr);
  t.equal(status.stdout, 'chainnet: ready\n');
  t.same((await env.calls()).map((c) => c.env.CNI_COMMAND), ['STATUS', 'STATUS']);
});

t.test('bad input is refused before any plugin runs', async (t) => {
  const env = await setup(t, (ipam) => list(ipam));
  const cases: Array<[string[], RegExp]> = [
    [['cni', 'add', '--network', 'chainnet', '--container-id', 'bad id', '--netns', 'j'], /invalid characters in containerID/],
    [['cni', 'add', '--network', 'chainnet', '--container-id', 'c', '--netns', 'j', '--ifname', 'eth0/x'], /invalid network interface name/],
    [['cni', 'add', '--network', 'nosuch', '--container-id', 'c', '--netns', 'j'], /no net configuration with name "nosuch"/],
    [['cni', 'add', '--network', 'chainnet', '--container-id', 'c', '--netns', 'j', '--runtime-config', '[1]'], /must be a JSON object/],
    [['cni', 'add', '--network', 'chainnet', '--container-id', 'c', '--netns', 'j', '--args', 'novalue'], /invalid CNI_ARGS/],
  ];
  for (const [args, message] of cases) {
    const result = await env.cli(args);
    t.equal(result.code, 1, args.join(' '));
    t.match(result.stderr, message);
    t.equal(result.stderr.trim().split('\n').length, 1, 'a one-line message');
  }
  t.same(await env.calls(), [], 'no plugin ran');
  t.same(await fs.readdir(env.ipamDir), [], 'no lease directory was made');
});
