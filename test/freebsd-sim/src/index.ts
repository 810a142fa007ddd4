// The simulator as tests use it: make a state directory, get the environment that
// puts the simulated tools in the driver's tool path, read state and the command log,
// ask reachability questions.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SIM_BIN } from './exec-box.js';
import { callKernel, kernelSocket } from './kernel.js';
import { hostIfaceSetup } from './model.js';
import { connect, reach, type ReachQuery, type ReachResult } from './reach.js';
import { initialState, readLog, readState, writeState, withState, type InitOptions, type LogEntry, type SimState } from './state.js';

export { SIM_BIN };

export interface Simulator {
  dir: string;
  /** JAILNET_TOOL_PATH and JAILNET_SIM_STATE for the driver and the tools, and a JAILNET_RUN_DIR of its own. */
  env: Record<string, string>;
  state(): SimState;
  log(): LogEntry[];
  reach(query: ReachQuery): ReachResult;
  /** A connection: pools advance, sticky nodes and pf states are made (reach.ts connect). */
  connect(query: ReachQuery): Promise<ReachResult>;
  /** Changes the state directly (test setup: pf states, releases, delays). */
  mutate(work: (state: SimState) => void): Promise<void>;
}

export const DEFAULT_UPLINK = { name: 'vtnet0', cidr: '192.0.2.10/24', gateway: '192.0.2.1' };

export async function createSimulator(dir: string, options: InitOptions = {}): Promise<Simulator> {
  mkdirSync(dir, { recursive: true });
  const state = initialState(options);
  hostIfaceSetup(state, options.uplink ?? DEFAULT_UPLINK);
  await writeState(dir, state);
  return openSimulator(dir);
}

export function openSimulator(dir: string): Simulator {
  return {
    dir,
    // The run directory inside the simulator's: what jailnet keeps there (aardvark-dns's files) is the test's alone.
    env: { JAILNET_TOOL_PATH: SIM_BIN, JAILNET_SIM_STATE: dir, JAILNET_RUN_DIR: path.join(dir, 'run') },
    state: () => readState(dir),
    log: () => readLog(dir),
    reach: (query) => reach(readState(dir), query),
    connect: async (query) => withState(dirOfFileStore(dir), (state) => connect(state, query)),
    mutate: async (work) => withState(dirOfFileStore(dir), work),
  };
}

/** A change made to the state file while a kernel holds the state would be lost when it writes. */
function dirOfFileStore(dir: string): string {
  if (existsSync(kernelSocket(dir))) throw new Error(`a resident kernel holds the state of ${dir}: stop it before changing the state directly`);
  return dir;
}

export interface ResidentKernel {
  /** Writes the state file now, so state() reads what the kernel holds. */
  flush(): Promise<void>;
  /** Stops it; the state file then holds its last state and tools use the file again. */
  stop(): Promise<void>;
}

const KERNEL_START_MS = 10_000;

/**
 * Starts a resident kernel for the simulator in `dir` (kernel.ts: the state in memory, so
 * a command's cost does not grow with the state) and waits until it serves.
 */
export async function startKernel(dir: string): Promise<ResidentKernel> {
  if (existsSync(kernelSocket(dir))) {
    // Left by a kernel that was killed: the new one replaces it; a live one is not doubled.
    const alive = await callKernel(dir, { op: 'flush' }, 1000).then(() => true, () => false);
    if (alive) throw new Error(`a resident kernel already holds the state of ${dir}`);
    rmSync(kernelSocket(dir));
  }
  const child = spawn(path.join(SIM_BIN, 'simctl'), ['kernel'], { env: { ...process.env, JAILNET_SIM_STATE: dir }, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  for (const started = Date.now(); !existsSync(kernelSocket(dir)); await sleep(20)) {
    if (gone || Date.now() - started > KERNEL_START_MS) {
      child.kill('SIGKILL');
      throw new Error(`the resident kernel for ${dir} did not start`);
    }
  }
  return {
    flush: async () => {
      const reply = await callKernel(dir, { op: 'flush' }, KERNEL_START_MS);
      if (!reply.flushed) throw new Error(`the resident kernel did not write the state: ${reply.error ?? 'no answer'}`);
    },
    stop: async () => {
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), sleep(KERNEL_START_MS).then(() => false)]);
      if (!stopped) child.kill('SIGKILL');
    },
  };
}

export type { ReachQuery, ReachResult, SimState, LogEntry, InitOptions };
