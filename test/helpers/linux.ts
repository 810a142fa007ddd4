// Real Linux hosts for the Linux driver's tests: network namespaces, bridges, an HTTP
// server in a namespace, fetches from anywhere. Every test names what it creates and
// removes it by name. Root and the tools are required: without them the test fails
// loudly rather than skipping.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jailnet, ROOT, type Run } from './run.js';
import { pidsWith } from '../fixtures/proc.mjs';

export const FETCH = path.join(ROOT, 'test', 'fixtures', 'fetch.mjs');
const TOOLS = ['ip', 'nft', 'nsenter', 'unshare', 'sysctl', 'busybox'];

/** Why this machine cannot run the real Linux tests, or undefined when it can. */
export function missingPrerequisite(extraTools: string[] = []): string | undefined {
  if (process.platform !== 'linux') return `these tests need Linux, not ${process.platform}`;
  if (process.getuid?.() !== 0) return 'these tests need root (network namespaces, bridges, nftables)';
  for (const tool of [...TOOLS, ...extraTools]) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (.ci/run installs it)`;
  }
  return undefined;
}

export function sh(file: string, args: string[], options: { input?: string; allowFailure?: boolean } = {}): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(file, args, { encoding: 'utf8', input: options.input ?? '' });
  if (result.status !== 0 && !options.allowFailure) throw new Error(`${file} ${args.join(' ')}: ${result.stderr || result.stdout}`);
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function netnsAdd(name: string): string {
  sh('ip', ['netns', 'add', name]);
  return `/run/netns/${name}`;
}

/** Kills every process in the namespace, then removes it. */
export function netnsRemove(name: string): void {
  if (!existsSync(`/run/netns/${name}`)) return;
  for (const pid of sh('ip', ['netns', 'pids', name], { allowFailure: true }).stdout.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  sh('ip', ['netns', 'del', name], { allowFailure: true });
}

export function linkRemove(name: string): void {
  sh('ip', ['link', 'del', 'dev', name], { allowFailure: true });
}

/** The host's own address on its default route, what "the host's address" means in the tests. */
export function hostAddress(): string {
  const routes = JSON.parse(sh('ip', ['-j', '-4', 'route', 'get', '192.0.2.200']).stdout) as Array<{ prefsrc?: string }>;
  const address = routes[0]?.prefsrc;
  if (!address) throw new Error('this host has no IPv4 address on a default route');
  return address;
}

/**
 * The directories of the httpd servers this process started: every process serving one is
 * killed when this process exits (removing a pod's namespace does not stop them; httpd
 * forks as it daemonizes, so the processes are looked up then, not at the start).
 */
const httpServers: string[] = [];
process.once('exit', () => {
  for (const pid of httpServers.flatMap((dir) => pidsWith(dir))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

/** busybox httpd serving `body` on port 80 inside a namespace (it daemonizes itself; this process kills it as it exits). */
export function serveHttp(netnsPath: string, body: string, port = 80): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'jailnet-www-'));
  writeFileSync(path.join(dir, 'index.html'), body);
  sh('nsenter', [`--net=${netnsPath}`, '--', 'busybox', 'httpd', '-p', String(port), '-h', dir]);
  httpServers.push(dir);
  return dir;
}

/** GET from the host (netns undefined) or from inside a namespace. */
export function fetchFrom(netnsPath: string | undefined, url: string): { ok: boolean; body: string } {
  const node = process.execPath;
  const argv = netnsPath ? ['nsenter', `--net=${netnsPath}`, '--', node, FETCH, url] : [node, FETCH, url];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_OPTIONS|NODE_EXTRA_CA_CERTS)$/.test(k)));
  const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: 'utf8', env, timeout: 10_000 });
  return { ok: result.status === 0, body: result.status === 0 ? result.stdout : result.stderr };
}

export function ping(netnsPath: string | undefined, address: string): boolean {
  const argv = ['busybox', 'ping', '-c', '1', '-W', '2', address];
  const full = netnsPath ? ['nsenter', `--net=${netnsPath}`, '--', ...argv] : argv;
  return spawnSync(full[0] as string, full.slice(1)).status === 0;
}

export interface NftView {
  exists: boolean;
  /** Every rule comment and set element of jailnet's table, as text. */
  text: string;
}

export function jailnetNft(): NftView {
  const result = sh('nft', ['list', 'table', 'inet', 'jailnet'], { allowFailure: true });
  return { exists: result.code === 0, text: result.stdout };
}

/** Host interfaces that are not loopback or the machine's own (veths, bridges left over). */
export function hostLinks(): Array<{ ifname: string; ifalias?: string; master?: string }> {
  return JSON.parse(sh('ip', ['-j', 'link', 'show']).stdout);
}

export function scratchDir(label: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `jailnet-${label}-`));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface CliLab {
  dir: string;
  netd: string;
  state: string;
  conf: string;
  /** `jailnet --config <the lab's conf> …` */
  cli(...args: string[]): Promise<Run>;
}

/** A scratch jailnet.conf (state, CNI config dir, a 10 s teardown bound) and the CLI bound to it. */
export function cliLab(label: string): CliLab {
  const dir = scratchDir(label);
  const lab = { dir, netd: path.join(dir, 'net.d'), state: path.join(dir, 'state'), conf: path.join(dir, 'jailnet.conf') };
  mkdirSync(lab.netd, { recursive: true });
  writeFileSync(lab.conf, `[runtime]\nstate_dir = ${lab.state}\ncni_config_dir = ${lab.netd}\nteardown_timeout = 10\n`);
  return { ...lab, cli: (...args: string[]) => jailnet(['--config', lab.conf, ...args]) };
}

export interface LinuxLab {
  dir: string;
  conf: string;
  netd: string;
  leases: string;
  state: string;
}

/**
 * A scratch jailnet.conf and one network in podman's default shape (bridge + host-local,
 * portmap, firewall, tuning) on `bridge`, with `subnet`.0/24 and its .1 as the gateway.
 */
export function linuxLab(label: string, network: string, bridge: string, subnet: string): LinuxLab {
  const dir = scratchDir(label);
  const lab = { dir, conf: path.join(dir, 'jailnet.conf'), netd: path.join(dir, 'net.d'), leases: path.join(dir, 'leases'), state: path.join(dir, 'state') };
  mkdirSync(lab.netd, { recursive: true });
  writeFileSync(lab.conf, `[runtime]\nstate_dir = ${lab.state}\ncni_config_dir = ${lab.netd}\n`);
  const ipam = { type: 'host-local', dataDir: lab.leases, ranges: [[{ subnet: `${subnet}.0/24`, gateway: `${subnet}.1` }]], routes: [{ dst: '0.0.0.0/0' }] };
  const plugins = [
    { type: 'bridge', bridge, isGateway: true, ipMasq: true, hairpinMode: true, ipam },
    { type: 'portmap', capabilities: { portMappings: true } },
    { type: 'firewall' },
    { type: 'tuning' },
  ];
  writeFileSync(path.join(lab.netd, `${network}.conflist`), JSON.stringify({ cniVersion: '0.4.0', name: network, plugins }));
  return lab;
}

export function busyboxPath(): string {
  return execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
}
