// The plugin process behind the shims in libexec/cni/ when jailnetd does not serve the
// call: picks the plugin by the shim's name and runs it in this process; then, with
// [daemon] autostart, starts jailnetd for the calls after it.
import { encodeJson } from '../cni/json.js';
import { versionInfo } from '../cni/versions.js';
import { isPluginName, pluginNamed } from './registry.js';

export async function runNamedPlugin(name: string): Promise<void> {
  if (!isPluginName(name)) {
    process.stderr.write(`jailnet: no CNI plugin named ${JSON.stringify(name)}\n`);
    process.exitCode = 1;
    return;
  }
  if (process.env.CNI_COMMAND === 'VERSION') {
    process.stdout.write(`${encodeJson(versionInfo())}\n`);
    return;
  }
  const [{ pluginMain }, plugin] = await Promise.all([import('../cni/skel.js'), pluginNamed(name)]);
  await pluginMain(plugin);
  await (await import('../daemon/autostart.js')).autostartAfterCall(process.env);
}
