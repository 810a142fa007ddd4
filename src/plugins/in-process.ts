// One of jailnet's plugins run inside this process, as its own process would run it: the
// call's environment (CNI_* and the rest) made current for everything it awaits, stdin
// given whole, stdout collected. jailnetd serves forwarded calls this way, and a plugin
// delegates to jailnet's own host-local this way.
import { cniEnvironment, pluginError, type Invoker } from '../cni/invoke.js';
import { decodeJson } from '../cni/netconf.js';
import { runPlugin } from '../cni/skel.js';
import type { CniCommand } from '../cni/versions.js';
import { withCallEnv } from '../util/call-env.js';
import { pluginNamed } from './registry.js';

export interface InProcessRun {
  code: number;
  stdout: string;
}

export async function runPluginInProcess(name: string, env: NodeJS.ProcessEnv, stdin: Buffer): Promise<InProcessRun> {
  const plugin = await pluginNamed(name);
  let stdout = '';
  const code = await withCallEnv(env, () => runPlugin(plugin, { env, stdin: [stdin], writeStdout: (text) => void (stdout += text) }));
  return { code, stdout };
}

/** One of jailnet's plugins run here, its stdout decoded as an invoker's answer; a failure is the plugin's error. */
export async function runPluginDecoded(type: string, command: CniCommand, env: NodeJS.ProcessEnv, config: unknown): Promise<unknown> {
  const { code, stdout } = await runPluginInProcess(type, env, Buffer.from(JSON.stringify(config)));
  if (code !== 0) throw pluginError(type, command, stdout, '', code);
  return stdout.trim() === '' ? undefined : decodeJson(stdout, `output of plugin ${type}`);
}

/** A chain's invoker that runs jailnet's own plugins in this process, with `baseEnv` beneath each call's CNI_* variables. */
export function inProcessInvoker(baseEnv: NodeJS.ProcessEnv): Invoker {
  return {
    invoke: (type, env, stdin) => runPluginDecoded(type, env.command, { ...baseEnv, ...cniEnvironment(env) }, stdin),
  };
}
