// The environment of the call being served. A plugin process has one call and reads
// process.env; jailnetd serves many calls at once, each with its caller's CNI_* and
// JAILNET_DEADLINE, so code that needs "this call's" variables asks here instead.
import { AsyncLocalStorage } from 'node:async_hooks';

const current = new AsyncLocalStorage<NodeJS.ProcessEnv>();

/** Runs work with `env` as the call's environment (inherited by everything it awaits). */
export function withCallEnv<T>(env: NodeJS.ProcessEnv, work: () => Promise<T>): Promise<T> {
  return current.run(env, work);
}

/** The environment of the call in progress: its own in jailnetd, process.env in a plugin process. */
export function callEnv(): NodeJS.ProcessEnv {
  return current.getStore() ?? process.env;
}
