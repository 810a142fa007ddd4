// Delegated plugins (IPAM): found in CNI_PATH and given the calling plugin's environment
// and its complete stdin, as the spec says. When what CNI_PATH finds is jailnet's own shim
// for that plugin, its code runs in this process: the same plugin, without a second process
// (a Node start, ~0.3 s) or a second round trip to jailnetd.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { bundledPluginDir } from '../platform.js';
import { runPluginDecoded } from '../plugins/in-process.js';
import { isPluginName } from '../plugins/registry.js';
import { callEnv } from '../util/call-env.js';
import { formatCniArgs } from './args.js';
import { CniError, ErrorCode } from './errors.js';
import { cniEnvironment, execInvoker, findPlugin, type InvokeEnv } from './invoke.js';
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

async function runDelegate(command: Exclude<CniCommand, 'VERSION'>, request: PluginRequest): Promise<unknown> {
  const type = checkIpamType(request.config.ipam?.type, String(request.config.type ?? ''));
  const env = callEnv();
  if (env[DELEGATED_ENV]) {
    throw new CniError(ErrorCode.InvalidConfig, `ipam.type "${type}" would delegate again from ${env[DELEGATED_ENV]}`, 'an IPAM plugin cannot have an ipam section of its own');
  }
  const delegateEnv = { ...env, [DELEGATED_ENV]: String(request.config.type ?? 'a plugin') };
  const invocation: InvokeEnv = {
    command,
    containerId: request.containerId,
    netns: request.netns,
    ifname: request.ifname,
    args: formatCniArgs(request.args),
    path: request.path,
  };
  if (await isOwnPlugin(type, request.path)) return runPluginDecoded(type, command, { ...delegateEnv, ...cniEnvironment(invocation) }, request.config);
  return execInvoker(delegateEnv).invoke(type, invocation, request.config);
}

/** Whether CNI_PATH finds jailnet's own shim for `type` (by real path: a symlinked plugin dir counts). */
async function isOwnPlugin(type: string, dirs: string[]): Promise<boolean> {
  if (!isPluginName(type)) return false;
  const found = await findPlugin(type, dirs);
  const [real, ours] = await Promise.all([fs.realpath(found), fs.realpath(path.join(bundledPluginDir(), type)).catch(() => '')]);
  return real === ours;
}


export async function ipamAdd(request: PluginRequest): Promise<Result> {
  const output = await runDelegate('ADD', request);
  if (output === undefined) throw new CniError(ErrorCode.PluginFailed, `IPAM plugin ${request.config.ipam?.type} returned no result`);
  return parseResult(output, request.cniVersion);
}

export async function ipamRun(command: Exclude<CniCommand, 'ADD' | 'VERSION'>, request: PluginRequest): Promise<void> {
  await runDelegate(command, request);
}
