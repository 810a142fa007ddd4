// The entry point behind libexec/cni/*: picks the plugin by the launcher's name.
import { pluginMain, type Plugin } from '../cni/skel.js';
import { hostLocal } from './host-local.js';
import { pendingPlugin } from './pending.js';

const PLUGINS: Record<string, () => Plugin> = {
  'host-local': () => hostLocal,
  bridge: () => pendingPlugin('bridge'),
  portmap: () => pendingPlugin('portmap'),
  loopback: () => pendingPlugin('loopback'),
  firewall: () => pendingPlugin('firewall'),
  tuning: () => pendingPlugin('tuning'),
};

export const PLUGIN_NAMES = Object.keys(PLUGINS);

export function runNamedPlugin(name: string): void {
  const make = PLUGINS[name];
  if (!make) {
    process.stderr.write(`jailnet: no CNI plugin named ${JSON.stringify(name)}\n`);
    process.exitCode = 1;
    return;
  }
  pluginMain(make());
}
