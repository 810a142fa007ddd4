// The simulator as tests use it: make a state directory, get the environment that
// puts the simulated tools in the driver's tool path, read state and the command log,
// ask reachability questions.
import { mkdirSync } from 'node:fs';
import { SIM_BIN } from './exec-box.js';
import { hostIfaceSetup } from './model.js';
import { connect, reach, type ReachQuery, type ReachResult } from './reach.js';
import { initialState, readLog, readState, writeState, withState, type InitOptions, type LogEntry, type SimState } from './state.js';

export { SIM_BIN };

export interface Simulator {
  dir: string;
  /** JAILNET_TOOL_PATH and JAILNET_SIM_STATE for the driver and the tools. */
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
    env: { JAILNET_TOOL_PATH: SIM_BIN, JAILNET_SIM_STATE: dir },
    state: () => readState(dir),
    log: () => readLog(dir),
    reach: (query) => reach(readState(dir), query),
    connect: (query) => withState(dir, (state) => connect(state, query)),
    mutate: (work) => withState(dir, work),
  };
}

export type { ReachQuery, ReachResult, SimState, LogEntry, InitOptions };
