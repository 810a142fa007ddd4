// The host driver and jailnet state a plugin process works with: the driver picked by
// JAILNET_HOST or the OS, the state directory from jailnet.conf (JAILNET_CONFIG or the default),
// as the call's environment gives them (the process's, or the forwarded call's in jailnetd).
import path from 'node:path';
import { CniError, ErrorCode } from '../cni/errors.js';
import { ConfigError, loadConfig } from '../config/jailnet-conf.js';
import type { Host } from '../hosts/host.js';
import { hostFromOptions } from '../hosts/select.js';
import { validateInterfaceName } from '../names.js';
import { defaultConfigFile } from '../platform.js';
import { callEnv } from '../util/call-env.js';

export function pluginHost(): Host {
  try {
    return hostFromOptions(undefined, { env: callEnv() }).host;
  } catch (error) {
    throw new CniError(ErrorCode.NotAvailable, 'no host driver for this system', (error as Error).message);
  }
}

/**
 * The vnet CNI_NETNS names on this host (a jail on FreeBSD, a netns path or name on
 * Linux), validated before it reaches any argv.
 */
export function sandboxOf(host: Host, netns: string): string {
  try {
    return host.sandboxOf(netns);
  } catch (error) {
    throw new CniError(ErrorCode.InvalidEnvironment, (error as Error).message);
  }
}

/** CNI_IFNAME as a FreeBSD interface name: it reaches ifconfig's argv, so never an option or 16+ characters. */
export function podInterfaceName(request: { ifname: string }): string {
  try {
    return validateInterfaceName(request.ifname);
  } catch (error) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'invalid network interface name', (error as Error).message);
  }
}

export async function attachmentsDir(): Promise<string> {
  try {
    const config = await loadConfig(callEnv().JAILNET_CONFIG, defaultConfigFile());
    return path.join(config.runtime.stateDir, 'attachments');
  } catch (error) {
    // The plugin's own configuration, jailnet.conf: invalid configuration, as a network config would be.
    if (error instanceof ConfigError) throw new CniError(ErrorCode.InvalidConfig, 'invalid jailnet configuration', error.message);
    throw error;
  }
}
