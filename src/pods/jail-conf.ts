// jail.conf(5) from jail-templates/, so an admin can run the same pod with service jail.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { podJailName } from './pods.js';

const TEMPLATES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'jail-templates');

function fill(template: string, values: Record<string, string>): string {
  return readFileSync(path.join(TEMPLATES, template), 'utf8').replace(/@([A-Z]+)@/g, (whole, key: string) => values[key] ?? whole);
}

/** The pod jail's block: a vnet of its own in bridge and none modes, the host's stack otherwise. */
export function renderJailConf(options: { pod: string; mode: string }): string {
  const network = options.mode === 'bridge' || options.mode === 'none' ? '\tvnet;' : '\tip4 = inherit;\n\tip6 = inherit;';
  return fill('pod.conf.in', { POD: options.pod, JAIL: podJailName(options.pod), NETWORK: network });
}

export function renderContainerConf(options: { pod: string; container: string; path: string }): string {
  return fill('container.conf.in', { POD: options.pod, JAIL: podJailName(options.pod), CONTAINER: options.container, PATH: options.path });
}
