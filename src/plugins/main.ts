// The entry point behind libexec/cni/*: picks the plugin by the launcher's name.
// VERSION is answered before anything heavy loads: podman sends it to every plugin
// of a list several times per container start and stop.
import { encodeJson } from '../cni/json.js';
import { versionInfo } from '../cni/versions.js';
import type { Plugin } from '../cni/skel.js';

const PLUGINS: Record<string, () => Promise<Plugin>> = {
  'host-local': async () => (await import('./host-local.js')).hostLocal,
  bridge: async () => (await import('./bridge/index.js')).bridge,
  portmap: async () => (await import('./portmap.js')).portmap,
  loopback: async () => (await import('./loopback.js')).loopback,
  firewall: async () => (await import('./firewall.js')).firewall,
  tuning: async () => (await import('./tuning.js')).tuning,
};

export async function runNamedPlugin(name: string): Promise<void> {
  const load = PLUGINS[name];
  if (!load) {
    process.stderr.write(`jailnet: no CNI plugin named ${JSON.stringify(name)}\n`);
    process.exitCode = 1;
    return;
  }
  if (process.env.CNI_COMMAND === 'VERSION') {
    process.stdout.write(`${encodeJson(versionInfo())}\n`);
    return;
  }
  const [{ pluginMain }, plugin] = await Promise.all([import('../cni/skel.js'), load()]);
  pluginMain(plugin);
}
