// Delegated plugins (IPAM): run like any plugin (src/cni/invoke.ts), with the calling
// plugin's environment and its complete stdin, found in CNI_PATH, as the spec says.
import { formatCniArgs } from './args.js';
import { CniError, ErrorCode } from './errors.js';
import { callEnv } from '../util/call-env.js';
import { execInvoker } from './invoke.js';
import { parseResult, type Result } from './result.js';
import type { PluginRequest } from './skel.js';
import type { CniCommand } from './versions.js';

/** Plugins that make interfaces or rules, never addresses: an ipam.type naming one would call itself without end. */
const NOT_IPAM = new Set(['bridge', 'portmap', 'firewall', 'tuning', 'loopback', 'macvlan', 'ipvlan', 'vlan', 'ptp', 'host-device', 'bandwidth', 'sbr', 'vrf']);

/** Set in a delegated plugin's environment: a delegate that delegates again is refused. */
const DELEGATED_ENV = 'JAILNET_DELEGATED_BY';

export function checkIpamType(type: string | undefined, own: string): string {
  if (!type) throw new CniError(ErrorCode.InvalidConfig, 'ipam.type is missing');
  if (type === own || NOT_IPAM.has(type)) {
    throw new CniError(ErrorCode.InvalidConfig, `ipam.type "${type}" is not an IPAM plugin`, 'use host-local, dhcp or static');
  }
  return type;
}

function runDelegate(command: Exclude<CniCommand, 'VERSION'>, request: PluginRequest): Promise<unknown> {
  const type = checkIpamType(request.config.ipam?.type, String(request.config.type ?? ''));
  const env = callEnv();
  if (env[DELEGATED_ENV]) {
    throw new CniError(ErrorCode.InvalidConfig, `ipam.type "${type}" would delegate again from ${env[DELEGATED_ENV]}`, 'an IPAM plugin cannot have an ipam section of its own');
  }
  return execInvoker({ ...env, [DELEGATED_ENV]: String(request.config.type ?? 'a plugin') }).invoke(
    type,
    {
      command,
      containerId: request.containerId,
      netns: request.netns,
      ifname: request.ifname,
      args: formatCniArgs(request.args),
      path: request.path,
    },
    request.config,
  );
}

export async function ipamAdd(request: PluginRequest): Promise<Result> {
  const output = await runDelegate('ADD', request);
  if (output === undefined) throw new CniError(ErrorCode.PluginFailed, `IPAM plugin ${request.config.ipam?.type} returned no result`);
  return parseResult(output, request.cniVersion);
}

export async function ipamRun(command: Exclude<CniCommand, 'ADD' | 'VERSION'>, request: PluginRequest): Promise<void> {
  await runDelegate(command, request);
}
