// Running the simulated FreeBSD tools from tests, as the driver would.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type tap from 'tap';
import { createSimulator, SIM_BIN, type InitOptions, type Simulator } from '../freebsd-sim/src/index.js';
import { run, type Run } from './run.js';

/** What the helpers need of a tap test: its fixture directory. */
export type TestDir = Pick<typeof tap, 'testdir' | 'teardown'>;

export async function newSim(t: TestDir, options: InitOptions = {}): Promise<Simulator> {
  const sim = await createSimulator(path.join(t.testdir({ sim: {} }), 'sim'), options);
  t.teardown(() => stopAardvarks(sim));
  return sim;
}

/**
 * The simulated aardvark-dns servers a test left running (each is a real process of its
 * own). Where the test's directory went first, they see it gone and exit by themselves.
 */
export function stopAardvarks(sim: Simulator): void {
  if (!existsSync(sim.dir)) return;
  for (const { pid } of sim.state().aardvarks ?? []) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Runs one simulated tool: `tool(sim, 'ifconfig', ['-l'])`. */
export function tool(sim: Simulator, name: string, args: string[], stdin = '', env: Record<string, string> = {}): Promise<Run> {
  return run(path.join(SIM_BIN, name), args, { ...sim.env, ...env }, stdin);
}

/** Runs a sequence of commands that must all succeed; returns the last result. */
export async function setup(sim: Simulator, commands: string[][]): Promise<Run> {
  let last: Run | undefined;
  for (const [name, ...args] of commands) {
    last = await tool(sim, name as string, args);
    if (last.code !== 0) throw new Error(`setup: ${name} ${args.join(' ')} failed: ${last.stderr}`);
  }
  return last as Run;
}
