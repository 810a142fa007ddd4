// A FreeBSD host (simulated) set up the way podman's FreeBSD docs ask, with jailnet's
// plugins reachable through `jailnet cni`, for plugin tests.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { SimState, Simulator } from '../freebsd-sim/src/index.js';
import { PLUGIN_DIR, jailnet, type Run } from './run.js';
import { newSim, setup, tool, type TestDir } from './sim.js';

/** podman's pf.conf.sample, with the handbook's nat-anchor line and the egress interface of the simulated host. */
export const PODMAN_PF_CONF = [
  'v4egress_if = "vtnet0"',
  'nat on $v4egress_if inet from <cni-nat> to any -> ($v4egress_if)',
  'rdr-anchor "cni-rdr/*"',
  'nat-anchor "cni-rdr/*"',
  'anchor "jailnet-fw"',
  'table <cni-nat>',
  '',
].join('\n');

/** podman's default FreeBSD network, as libnetwork writes it (cniVersion 0.4.0). */
export function podmanDefaultNetwork(leaseDir: string, bridgeExtra: Record<string, unknown> = {}) {
  return {
    cniVersion: '0.4.0',
    name: 'podman',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni-podman0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        capabilities: { ips: true },
        ipam: { type: 'host-local', dataDir: leaseDir, routes: [{ dst: '0.0.0.0/0' }], ranges: [[{ subnet: '10.88.0.0/16', gateway: '10.88.0.1' }]] },
        ...bridgeExtra,
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall' },
      { type: 'tuning' },
    ],
  };
}

export interface PodHost {
  sim: Simulator;
  dir: string;
  stateDir: string;
  /** The CNI config dir: writeList puts lists there, so `--network NAME` finds them. */
  netDir: string;
  leaseDir: string;
  cacheDir: string;
  recordsDir: string;
  /** The environment of `cli` and of the plugins it runs. */
  env: Record<string, string>;
  /** Runs `jailnet …` with the plugins pointed at the simulator. */
  cli(args: string[]): Promise<Run>;
  writeList(name: string, list: unknown): Promise<string>;
  add(list: string, containerId: string, jail: string, extra?: string[]): Promise<Run>;
  del(list: string, containerId: string, jail: string, extra?: string[]): Promise<Run>;
  jail(name: string): Promise<void>;
}

export async function podHost(t: TestDir, options: { filterLocal?: boolean; runtime?: string[]; env?: Record<string, string> } = {}): Promise<PodHost> {
  const sim = await newSim(t);
  const dir = path.dirname(sim.dir);
  const leaseDir = path.join(dir, 'networks');
  const stateDir = path.join(dir, 'state');
  const netDir = path.join(dir, 'net.d');
  const conf = path.join(dir, 'jailnet.conf');
  await fs.mkdir(netDir, { recursive: true });
  const extra = (options.runtime ?? []).map((line) => `${line}\n`).join('');
  await fs.writeFile(conf, `[runtime]\nstate_dir = ${stateDir}\ncni_config_dir = ${netDir}\ncni_plugin_dirs = ${PLUGIN_DIR}\n${extra}`);
  await setup(sim, [
    ['sysctl', 'net.inet.ip.forwarding=1'],
    ...(options.filterLocal === false ? [] : [['sysctl', 'net.pf.filter_local=1']]),
    ['pfctl', '-e'],
  ]);
  const loaded = await tool(sim, 'pfctl', ['-f', '-'], PODMAN_PF_CONF);
  if (loaded.code !== 0) throw new Error(`pf.conf: ${loaded.stderr}`);
  const env = { ...sim.env, JAILNET_HOST: 'freebsd', JAILNET_CONFIG: conf, ...options.env };
  const cli = (args: string[]) => jailnet(['--config', conf, ...args], env);
  return {
    sim,
    env,
    dir,
    stateDir,
    netDir,
    leaseDir,
    cacheDir: path.join(stateDir, 'cni', 'results'),
    recordsDir: path.join(stateDir, 'attachments'),
    cli,
    async writeList(name, list) {
      const file = path.join(netDir, `${name}.conflist`);
      await fs.writeFile(file, JSON.stringify(list));
      return file;
    },
    add: (list, containerId, jail, extra = []) => cli(['cni', 'add', '--conflist', list, '--container-id', containerId, '--netns', jail, ...extra]),
    del: (list, containerId, jail, extra = []) => cli(['cni', 'del', '--conflist', list, '--container-id', containerId, '--netns', jail, ...extra]),
    async jail(name) {
      await setup(sim, [['jail', '-c', `name=${name}`, 'path=/', 'vnet', 'persist', `host.hostname=${name}`]]);
    },
  };
}

/** The state as a FreeBSD admin would compare it: no counters, ids or indexes, optionally without one interface. */
export function comparable(state: SimState, without: string[] = []) {
  const vnetName = (id: string) => (id === 'host' ? 'host' : (state.jails.find((j) => j.vnetId === id)?.name ?? id));
  return {
    jails: state.jails.map((j) => ({ name: j.name, dying: j.dying, vnet: j.vnet })),
    interfaces: state.ifaces
      .filter((i) => !(i.vnet === 'host' && without.includes(i.name)))
      .map((i) => ({
        name: i.name,
        vnet: vnetName(i.vnet),
        up: i.up,
        mtu: i.mtu,
        description: i.description,
        inet: i.inet,
        inet6: i.inet6,
        member: i.memberOf !== undefined,
      }))
      .sort((a, b) => `${a.vnet}/${a.name}`.localeCompare(`${b.vnet}/${b.name}`)),
    vnets: state.vnets.map((v) => ({ vnet: vnetName(v.id), sysctls: v.sysctls, routes: v.routes, pf: v.pf })),
    modules: state.modules,
  };
}

/** The host as an admin compares it, without the jails' lo0: a setup brings it up, and it lives and dies with its jail. */
export function hostView(state: SimState) {
  const seen = comparable(state);
  return { ...seen, interfaces: seen.interfaces.filter((i) => !(i.vnet !== 'host' && i.name === 'lo0')) };
}
