#!/usr/bin/env node
// The main job: jailnet end to end.
// 1. A CNI chain through `jailnet cni` against host-local (any machine, no root).
// 2. Pods: a network, two pods with two containers each, addresses, reachability, a
//    published port, the topology, and an ordered teardown that proves nothing leaked.
//    On FreeBSD as root this runs on the real host; on Linux as root, for real on this
//    host with the Linux driver (network namespaces, veth, a bridge, nftables). Without
//    root it says so plainly and runs on jailnet's strict simulator of FreeBSD's tools.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'bin', 'jailnet.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'jailnet-demo-'));

function run(conf, env, ...args) {
  console.log(`$ jailnet ${args.join(' ')}`);
  const result = spawnSync(process.execPath, [cli, '--config', conf, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (result.stdout) process.stdout.write(result.stdout);
  if (result.status !== 0) throw new Error(`jailnet ${args.join(' ')} failed: ${result.stderr.trim()}`);
  if (result.stderr) process.stderr.write(result.stderr);
  return result.stdout;
}

function cniDemo() {
  console.log('== 1. A CNI chain against host-local ==');
  const netd = path.join(scratch, 'cni', 'net.d');
  const leases = path.join(scratch, 'cni', 'networks');
  const conf = path.join(scratch, 'cni', 'jailnet.conf');
  mkdirSync(netd, { recursive: true });
  writeFileSync(path.join(netd, '10-demo.conflist'), JSON.stringify({
    cniVersion: '1.1.0',
    name: 'demo',
    plugins: [{ type: 'host-local', ipam: { type: 'host-local', dataDir: leases, ranges: [[{ subnet: '10.123.0.0/24', gateway: '10.123.0.1' }], [{ subnet: 'fd12:3::/64' }]], routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }] } }],
  }));
  writeFileSync(conf, `[runtime]\nstate_dir = ${path.join(scratch, 'cni', 'state')}\ncni_config_dir = ${netd}\n`);
  run(conf, {}, 'cni', 'add', '--network', 'demo', '--container-id', 'pod-a', '--netns', 'pod-a');
  run(conf, {}, 'cni', 'check', '--network', 'demo', '--container-id', 'pod-a', '--netns', 'pod-a');
  run(conf, {}, 'cni', 'del', '--network', 'demo', '--container-id', 'pod-a', '--netns', 'pod-a');
  const left = readdirSync(path.join(leases, 'demo')).filter((n) => !/^(lock|last_reserved_ip\.\d+)$/.test(n));
  const cache = readdirSync(path.join(scratch, 'cni', 'state', 'cni', 'results'));
  if (left.length || cache.length) throw new Error(`leaked: ${[...left, ...cache].join(' ')}`);
  console.log('cni demo: OK, no lease and no cache entry left\n');
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function hasTool(tool) {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

function podHostEnv() {
  if (process.platform === 'freebsd' && isRoot()) return { env: {}, simulated: false };
  if (process.platform === 'freebsd') {
    console.log('This is FreeBSD, but not root: pods need root. Showing them on the FreeBSD tool simulator instead.');
  } else {
    console.log(`This machine runs ${process.platform} without root or without the tools jailnet's Linux driver needs (ip, nft, nsenter, busybox):`);
    console.log('the pod demo runs against jailnet\'s strict simulator of the FreeBSD tools (test/freebsd-sim), not on this host.');
  }
  const bin = path.join(root, 'test', 'freebsd-sim', 'bin');
  const state = path.join(scratch, 'freebsd-sim');
  if (!existsSync(path.join(root, 'test', 'freebsd-sim', 'dist', 'main.js'))) throw new Error('the simulator is not built: run npm run build');
  const env = { JAILNET_TOOL_PATH: bin, JAILNET_SIM_STATE: state, JAILNET_HOST: 'freebsd' };
  execFileSync(path.join(bin, 'simctl'), ['init'], { env: { ...process.env, ...env } });
  // The host setup podman's FreeBSD docs ask for: forwarding, filter_local, pf with the cni hooks.
  for (const [tool, ...args] of [['sysctl', 'net.inet.ip.forwarding=1'], ['sysctl', 'net.pf.filter_local=1'], ['pfctl', '-e']]) {
    spawnSync(path.join(bin, tool), args, { env: { ...process.env, ...env } });
  }
  spawnSync(path.join(bin, 'pfctl'), ['-f', '-'], {
    env: { ...process.env, ...env },
    input: 'ext_if = "vtnet0"\nnat on $ext_if inet from <cni-nat> to any -> ($ext_if)\nrdr-anchor "cni-rdr/*"\nnat-anchor "cni-rdr/*"\nanchor "jailnet-fw"\ntable <cni-nat>\n',
  });
  return { env, simulated: true, bin };
}

function podDemo() {
  console.log('== 2. Pods ==');
  const { env, simulated, bin } = podHostEnv();
  const conf = path.join(scratch, 'pods', 'jailnet.conf');
  const roots = path.join(scratch, 'pods', 'roots');
  for (const c of ['web1', 'web2', 'db1', 'db2']) mkdirSync(path.join(roots, c), { recursive: true });
  writeFileSync(conf, `[runtime]\nstate_dir = ${path.join(scratch, 'pods', 'state')}\ncni_config_dir = ${path.join(scratch, 'pods', 'net.d')}\n`);
  const j = (...args) => run(conf, env, ...args);
  j('status');
  j('network', 'create', 'demo', '--subnet', '10.89.42.0/24');
  j('pod', 'create', 'web', '--network', 'demo', '-p', '8080:80');
  j('pod', 'create', 'db', '--network', 'demo');
  j('container', 'add', 'web', 'app', '--path', path.join(roots, 'web1'));
  j('container', 'add', 'web', 'proxy', '--path', path.join(roots, 'web2'));
  j('container', 'add', 'db', 'postgres', '--path', path.join(roots, 'db1'));
  j('container', 'add', 'db', 'backup', '--path', path.join(roots, 'db2'));
  j('pod', 'ls');
  if (simulated) {
    const reach = (from, to, port) => {
      const out = execFileSync(path.join(bin, 'simctl'), ['reach', '--from', from, '--to', to, '--port', String(port)], { env: { ...process.env, ...env }, encoding: 'utf8' });
      const result = JSON.parse(out);
      console.log(`reach ${from} -> ${to}:${port}: ${result.delivered ? `delivered to ${result.jails.join(', ')} at ${result.address}:${result.port}` : `NOT delivered (${result.reason})`}`);
      if (!result.delivered) throw new Error('reachability failed');
    };
    reach('jailnet-web.app', '10.89.42.3', 5432);
    reach('jailnet-db.postgres', '10.89.42.2', 80);
    reach('external', '192.0.2.10', 8080);
    reach('host', '127.0.0.1', 8080);
    reach('jailnet-web.proxy', '192.0.2.10', 8080);
  } else {
    execFileSync('jexec', ['jailnet-web.app', 'ping', '-c', '1', '10.89.42.3'], { stdio: 'inherit' });
  }
  j('host', 'jails');
  j('host', 'interfaces');
  j('pod', 'rm', 'web', '--force');
  j('pod', 'rm', 'db', '--force');
  const gc = j('gc');
  if (!/nothing to remove/.test(gc)) throw new Error('gc found leftovers after an ordered teardown');
  const leases = path.join(scratch, 'pods', 'state', 'networks', 'demo');
  const left = readdirSync(leases).filter((n) => !/^(lock|last_reserved_ip\.\d+)$/.test(n));
  if (left.length) throw new Error(`leaked leases: ${left.join(' ')}`);
  console.log(`pod demo: OK (${simulated ? 'simulated FreeBSD host' : 'this FreeBSD host'}), nothing leaked`);
}

/** The same pods for real on this Linux host: namespaces, veth pairs, a bridge, nftables. */
async function linuxPodDemo() {
  console.log('== 2. Pods, for real on this Linux host (jailnet\'s Linux driver) ==');
  const conf = path.join(scratch, 'pods', 'jailnet.conf');
  const www = path.join(scratch, 'pods', 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(path.join(www, 'index.html'), 'hello from the web pod\n');
  writeFileSync(conf, `[runtime]\nstate_dir = ${path.join(scratch, 'pods', 'state')}\ncni_config_dir = ${path.join(scratch, 'pods', 'net.d')}\n`);
  const j = (...args) => run(conf, { JAILNET_HOST: 'linux' }, ...args);
  const bridge = 'jndemo0';
  try {
    console.log('-- 1. a network');
    j('network', 'create', 'demo', '--subnet', '10.89.42.0/24', '--bridge', bridge);
    console.log('-- 2. two pods with a container each');
    const web = JSON.parse(j('--json', 'pod', 'create', 'demo-web', '--network', 'demo', '-p', '18080:80'));
    j('pod', 'create', 'demo-db', '--network', 'demo');
    j('container', 'add', 'demo-web', 'httpd', '--path', '/');
    j('container', 'add', 'demo-db', 'client', '--path', '/');
    console.log('-- 3. addresses');
    j('pod', 'ls');
    const webAddress = web.interfaces[0].addresses[0].split('/')[0];
    console.log('-- 4. ping across, from the container of demo-db to demo-web');
    j('container', 'exec', 'demo-db', 'client', '--', 'busybox', 'ping', '-c', '2', '-W', '2', webAddress);
    console.log('-- 5. a published port fetched from the host');
    j('container', 'exec', 'demo-web', 'httpd', '--', 'busybox', 'httpd', '-p', '80', '-h', www);
    const response = await fetch('http://127.0.0.1:18080/', { signal: AbortSignal.timeout(5000) });
    const body = await response.text();
    console.log(`GET http://127.0.0.1:18080/ -> ${response.status} ${body.trim()}`);
    if (body !== 'hello from the web pod\n') throw new Error('the published port did not answer with the page');
    console.log('-- 6. topology');
    j('host', 'jails');
    j('host', 'interfaces');
    console.log('$ nft list table inet jailnet');
    console.log(execFileSync('nft', ['list', 'table', 'inet', 'jailnet'], { encoding: 'utf8' }));
  } finally {
    console.log('-- 7. ordered teardown');
    for (const pod of ['demo-web', 'demo-db']) spawnSync(process.execPath, [cli, '--config', conf, 'pod', 'rm', '--force', pod], { stdio: 'inherit', env: { ...process.env, JAILNET_HOST: 'linux' } });
  }
  const gc = j('gc');
  if (!/nothing to remove/.test(gc)) throw new Error('gc found leftovers after an ordered teardown');
  const leaks = [];
  const leases = readdirSync(path.join(scratch, 'pods', 'state', 'networks', 'demo')).filter((n) => !/^(lock|last_reserved_ip\.\d+)$/.test(n));
  if (leases.length) leaks.push(`leases ${leases.join(' ')}`);
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith('jailnet-demo-')) : [];
  if (netns.length) leaks.push(`namespaces ${netns.join(' ')}`);
  const members = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', bridge], { encoding: 'utf8' }) || '[]');
  if (members.length) leaks.push(`veths ${members.map((m) => m.ifname).join(' ')}`);
  const nft = spawnSync('nft', ['list', 'table', 'inet', 'jailnet'], { encoding: 'utf8' }).stdout ?? '';
  if (nft.includes('10.89.42.')) leaks.push('nftables rules');
  j('network', 'rm', 'demo');
  spawnSync('ip', ['link', 'del', 'dev', bridge]);
  if (leaks.length) throw new Error(`leaked: ${leaks.join('; ')}`);
  console.log('pod demo: OK (this Linux host, for real): no lease, namespace, veth or nftables rule left');
}

function linuxReady() {
  return process.platform === 'linux' && isRoot() && ['ip', 'nft', 'nsenter', 'unshare', 'setpriv', 'busybox'].every(hasTool);
}

try {
  cniDemo();
  if (linuxReady()) await linuxPodDemo();
  else podDemo();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
