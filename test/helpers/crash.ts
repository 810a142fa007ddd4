// A crash right after a given host command: the simulator pauses the command once it
// has taken effect, and the test SIGKILLs the process group of the one command it
// started (nothing else: not the test runner, not a shell).
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Simulator } from '../freebsd-sim/src/index.js';
import { pauseFile } from '../freebsd-sim/src/state.js';
import type { Run, RunOptions } from './run.js';

export interface Crash {
  run: Run;
  /** The host command after which the process group was killed; undefined if it finished first. */
  killedAfter?: string;
}

/** Starts a process the way `launch` does; `options` makes it killable and lets it pause. */
export type Launch = (env: Record<string, string>, options: RunOptions) => Promise<Run>;

const WAIT_MS = 60_000;

/** Runs `launch` so that it is killed right after the n-th host command from now. */
export async function crashAfter(sim: Simulator, n: number, launch: Launch): Promise<Crash> {
  const at = sim.state().commandCount + n;
  await sim.mutate((s) => {
    s.pauseAt = at;
  });
  let pgid: number | undefined;
  let finished = false;
  const running = launch({ JAILNET_SIM_PAUSABLE: '1' }, { detached: true, onSpawn: (pid) => (pgid = pid) }).finally(() => {
    finished = true;
  });
  const marker = pauseFile(sim.dir);
  const deadline = Date.now() + WAIT_MS;
  while (!finished && !existsSync(marker) && Date.now() < deadline) await sleep(5);
  let killedAfter: string | undefined;
  if (existsSync(marker)) {
    killedAfter = (JSON.parse(readFileSync(marker, 'utf8')) as { argv: string[] }).argv.join(' ');
    // The negative pid: the group of the command this test started, led by it.
    if (pgid !== undefined) process.kill(-pgid, 'SIGKILL');
  } else if (!finished && pgid !== undefined) {
    process.kill(-pgid, 'SIGKILL');
    throw new Error(`command did not reach host command ${n} within ${WAIT_MS} ms`);
  }
  const run = await running;
  rmSync(marker, { force: true });
  await sim.mutate((s) => {
    s.pauseAt = undefined;
  });
  return { run, killedAfter };
}
