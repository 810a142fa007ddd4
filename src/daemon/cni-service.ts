// Serves one forwarded CNI call inside jailnetd: the plugin the shim is named after runs
// here with the caller's CNI_* variables, exactly as it would in its own process.
import path from 'node:path';
import { pluginNamed, PLUGIN_NAMES } from '../plugins/registry.js';
import { defaultConfigFile, hostKind } from '../platform.js';
import { runPlugin } from '../cni/skel.js';
import { withCallEnv } from '../util/call-env.js';
import { CONTEXT_VARIABLES, exitAnswer, fallbackAnswer, type CniCall } from './protocol.js';

export const SERVED_PLUGINS: ReadonlySet<string> = new Set(PLUGIN_NAMES);

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

/** Runs the call and returns the answer to send: the exit code and the plugin's stdout. */
export async function serveCniCall(call: CniCall, daemonEnv: NodeJS.ProcessEnv): Promise<string> {
  const differs = contextMismatch(call.env, daemonEnv);
  if (differs) return fallbackAnswer(`${differs} differs from the daemon's`);
  const plugin = await pluginNamed(call.plugin);
  const env: NodeJS.ProcessEnv = { ...daemonEnv, ...call.env };
  let stdout = '';
  const code = await withCallEnv(env, () =>
    runPlugin(plugin, { env, stdin: [call.stdin], writeStdout: (text) => void (stdout += text) }),
  );
  return exitAnswer(code, stdout);
}
