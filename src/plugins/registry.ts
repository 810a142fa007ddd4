// jailnet's CNI plugins by the name a runtime calls them (the launcher's file name),
// each loaded only when first asked for.
import type { Plugin } from '../cni/skel.js';

const PLUGINS: Record<string, () => Promise<Plugin>> = {
  'host-local': async () => (await import('./host-local.js')).hostLocal,
  bridge: async () => (await import('./bridge/index.js')).bridge,
  portmap: async () => (await import('./portmap.js')).portmap,
  loopback: async () => (await import('./loopback.js')).loopback,
  firewall: async () => (await import('./firewall.js')).firewall,
  tuning: async () => (await import('./tuning.js')).tuning,
  static: async () => (await import('./static.js')).staticIpam,
  dnsname: async () => (await import('./dnsname.js')).dnsname,
};

export const PLUGIN_NAMES = Object.keys(PLUGINS);

export function isPluginName(name: string): boolean {
  return Object.hasOwn(PLUGINS, name);
}

export function pluginNamed(name: string): Promise<Plugin> {
  const load = PLUGINS[name];
  if (!load) throw new Error(`no CNI plugin named ${JSON.stringify(name)}`);
  return load();
}
