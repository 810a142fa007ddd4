// The time a call has. A runtime that waits for a plugin only so long (jailnet's CLI
// does) tells it when it will stop waiting, in JAILNET_DEADLINE (epoch milliseconds);
// lock waits end early enough that the call can still undo its work and answer with a
// clean error before that. The undo itself may use the reserve.
import { AsyncLocalStorage } from 'node:async_hooks';
import { callEnv } from './call-env.js';

export const DEADLINE_ENV = 'JAILNET_DEADLINE';

/** How long a plugin call may take when nobody above set a deadline ([runtime] plugin_timeout). */
export const DEFAULT_PLUGIN_TIMEOUT_MS = 300_000;

/** Kept back from the deadline for rolling back: normal waits end this much before it. */
export const ROLLBACK_RESERVE_MS = 10_000;

const undoing = new AsyncLocalStorage<boolean>();

/** The epoch-ms deadline of this call, if its caller set one. */
export function callDeadline(env: NodeJS.ProcessEnv = callEnv()): number | undefined {
  const value = Number(env[DEADLINE_ENV]);
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Runs undo work; waits inside it may use the rollback reserve. */
export function whileUndoing<T>(work: () => Promise<T>): Promise<T> {
  return undoing.run(true, work);
}

export function isUndoing(): boolean {
  return undoing.getStore() === true;
}

/**
 * How long a wait may still last: with a deadline, until it (while undoing) or until
 * the reserve before it (otherwise), at least 0; without one, `fallbackMs`.
 */
export function waitBudget(fallbackMs: number, env: NodeJS.ProcessEnv = callEnv()): number {
  const deadline = callDeadline(env);
  if (deadline === undefined) return fallbackMs;
  const end = isUndoing() ? deadline : deadline - ROLLBACK_RESERVE_MS;
  return Math.max(0, end - Date.now());
}
