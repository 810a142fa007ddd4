// The host driver and jailnet state a plugin process works with: the driver picked by
// JAILNET_HOST or the OS, the state directory from jailnet.conf (JAILNET_CONFIG or the default).
import path from 'node:path';
import { CniError, ErrorCode } from '../cni/errors.js';
import { loadConfig } from '../config/jailnet-conf.js';
import type { Host } from '../hosts/host.js';
import { hostFromOptions } from '../hosts/select.js';
import { defaultConfigFile } from '../platform.js';

export function pluginHost(): Host {
  try {
    return hostFromOptions(undefined).host;
  } catch (error) {
    throw new CniError(ErrorCode.NotAvailable, 'no host driver for this system', (error as Error).message);
  }
}

const JAIL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * CNI_NETNS names the jail on FreeBSD. It reaches `-j`/jexec argv, so it must be a jail
 * name — never an option (`-u root`) or anything a shell would read.
 */
export function jailOf(netns: string): string {
  if (!JAIL_NAME.test(netns) || netns.length > 255 || netns.split('.').some((part) => part === '')) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'CNI_NETNS must name a jail', JSON.stringify(netns));
  }
  return netns;
}

export async function attachmentsDir(): Promise<string> {
  const config = await loadConfig(process.env.JAILNET_CONFIG, defaultConfigFile());
  return path.join(config.runtime.stateDir, 'attachments');
}
