// Delegated plugins (IPAM): run like any plugin (src/cni/invoke.ts), with the calling
// plugin's environment and its complete stdin, found in CNI_PATH, as the spec says.
import { formatCniArgs } from './args.js';
import { CniError, ErrorCode } from './errors.js';
import { execInvoker } from './invoke.js';
import { parseResult, type Result } from './result.js';
import type { PluginRequest } from './skel.js';
import type { CniCommand } from './versions.js';

function runDelegate(command: Exclude<CniCommand, 'VERSION'>, request: PluginRequest): Promise<unknown> {
  const type = request.config.ipam?.type;
  if (!type) throw new CniError(ErrorCode.InvalidConfig, 'ipam.type is missing');
  return execInvoker().invoke(
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
