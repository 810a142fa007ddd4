// Serves one forwarded CNI call inside jailnetd: the plugin the shim is named after runs
// here with the caller's CNI_* variables, exactly as it would in its own process.
import path from 'node:path';
import { defaultConfigFile, hostKind } from '../platform.js';
import { runPluginInProcess, type InProcessRun } from '../plugins/in-process.js';
import { CONTEXT_VARIABLES, type CniCall } from './protocol.js';

/**
 * What a context variable means once defaults are applied: a call that names the
 * default config file explicitly is the same context as one that names none.
 */
function effective(name: (typeof CONTEXT_VARIABLES)[number], value: string | undefined): string {
  if (name === 'JAILNET_CONFIG') return path.resolve(value || defaultConfigFile());
  if (name === 'JAILNET_HOST') return value || hostKind();
  return value ?? '';
}

/** The first context variable in which the call differs from the daemon, if any. */
export function contextMismatch(call: Record<string, string>, daemon: NodeJS.ProcessEnv): string | undefined {
  return CONTEXT_VARIABLES.find((name) => effective(name, call[name]) !== effective(name, daemon[name]));
}

/** The plugin's exit code and stdout, or why the call is sent back to the shim. */
export type Served = InProcessRun | { sentBack: string };

export async function serveCniCall(call: CniCall, daemonEnv: NodeJS.ProcessEnv): Promise<Served> {
  const differs = contextMismatch(call.env, daemonEnv);
  if (differs) return { sentBack: `${differs} differs from the daemon's` };
  return runPluginInProcess(call.plugin, { ...daemonEnv, ...call.env }, call.stdin);
}
