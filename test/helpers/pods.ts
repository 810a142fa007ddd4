// A simulated FreeBSD host with jailnet's CLI configured for pods.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Simulator } from '../freebsd-sim/src/index.js';
import { PODMAN_PF_CONF } from './podnet.js';
import type { Launch } from './crash.js';
import { JAILNET, PLUGIN_DIR, run, type Run, type RunOptions } from './run.js';
import { newSim, setup, tool, type TestDir } from './sim.js';

export interface PodLab {
  sim: Simulator;
  dir: string;
  stateDir: string;
  netDir: string;
  env: Record<string, string>;
  jailnet(args: string[], extraEnv?: Record<string, string>, options?: RunOptions): Promise<Run>;
  /** `jailnet args` as crashAfter starts it. */
  launch(args: string[]): Launch;
}

export async function podLab(t: TestDir, options: { runtime?: string[] } = {}): Promise<PodLab> {
  const sim = await newSim(t);
  const dir = path.dirname(sim.dir);
  const stateDir = path.join(dir, 'state');
  const netDir = path.join(dir, 'net.d');
  const conf = path.join(dir, 'jailnet.conf');
  await fs.mkdir(path.join(dir, 'roots', 'c1'), { recursive: true });
  await fs.mkdir(path.join(dir, 'roots', 'c2'), { recursive: true });
  const extra = (options.runtime ?? []).map((line) => `${line}\n`).join('');
  await fs.writeFile(conf, `[runtime]\nstate_dir = ${stateDir}\ncni_config_dir = ${netDir}\ncni_plugin_dirs = ${PLUGIN_DIR}\nteardown_timeout = 10\n${extra}`);
  await setup(sim, [['sysctl', 'net.inet.ip.forwarding=1'], ['sysctl', 'net.pf.filter_local=1'], ['pfctl', '-e']]);
  const loaded = await tool(sim, 'pfctl', ['-f', '-'], PODMAN_PF_CONF);
  if (loaded.code !== 0) throw new Error(loaded.stderr);
  const env = { ...sim.env, JAILNET_HOST: 'freebsd', JAILNET_CONFIG: conf };
  return {
    sim,
    dir,
    stateDir,
    netDir,
    env,
    jailnet: (args, extraEnv = {}, options = {}) => run(process.execPath, [JAILNET, '--config', conf, ...args], { ...env, ...extraEnv }, '', options),
    launch: (args) => (extraEnv, options) => run(process.execPath, [JAILNET, '--config', conf, ...args], { ...env, ...extraEnv }, '', options),
  };
}

export function root(lab: PodLab, name: string): string {
  return path.join(lab.dir, 'roots', name);
}
