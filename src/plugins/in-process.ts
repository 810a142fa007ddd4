// One of jailnet's plugins run inside this process, as its own process would run it: the
// call's environment (CNI_* and the rest) made current for everything it awaits, stdin
// given whole, stdout collected. jailnetd serves forwarded calls this way, and a plugin
// delegates to jailnet's own host-local this way.
import { runPlugin } from '../cni/skel.js';
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
