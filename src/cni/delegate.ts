// Delegated plugins (IPAM): run with the same environment and the complete stdin of
// the calling plugin, found in CNI_PATH, as the spec's delegation rules say.
import { createExecDoor } from '../hosts/exec.js';
import { formatCniArgs } from './args.js';
import { CniError, ErrorCode } from './errors.js';
import { findPlugin } from './invoke.js';
import { decodeJson } from './netconf.js';
import { parseResult, type Result } from './result.js';
import type { PluginRequest } from './skel.js';
import type { CniCommand } from './versions.js';

async function runDelegate(type: string, command: CniCommand, request: PluginRequest, stdin: Buffer): Promise<string> {
  const file = await findPlugin(type, request.path);
  const door = createExecDoor();
  const run = await door.runFile(file, [], {
    input: stdin.toString(),
    allowFailure: true,
    env: {
      CNI_COMMAND: command,
      CNI_CONTAINERID: request.containerId,
      CNI_NETNS: request.netns,
      CNI_IFNAME: request.ifname,
      CNI_ARGS: formatCniArgs(request.args),
      CNI_PATH: request.path.join(':'),
    },
  });
  if (run.stderr) process.stderr.write(run.stderr);
  if (run.exitCode !== 0) {
    let code: number = ErrorCode.PluginFailed;
    let msg = run.stderr.trim() || `exit code ${run.exitCode}`;
    let details = '';
    try {
      const error = JSON.parse(run.stdout) as { code?: number; msg?: string; details?: string };
      code = typeof error.code === 'number' ? error.code : code;
      msg = error.msg ?? msg;
      details = error.details ?? '';
    } catch {
      // not CNI error JSON: keep stderr
    }
    throw new CniError(code, `${type}: ${msg}`, details);
  }
  return run.stdout;
}

export function ipamType(request: PluginRequest): string {
  const type = request.config.ipam?.type;
  if (!type) throw new CniError(ErrorCode.InvalidConfig, 'ipam.type is missing');
  if (type.includes('/')) throw new CniError(ErrorCode.InvalidConfig, `invalid ipam.type "${type}"`);
  return type;
}

export async function ipamAdd(request: PluginRequest): Promise<Result> {
  const stdout = await runDelegate(ipamType(request), 'ADD', request, request.stdin);
  return parseResult(decodeJson(stdout, 'IPAM result'), request.cniVersion);
}

export async function ipamRun(command: Exclude<CniCommand, 'ADD' | 'VERSION'>, request: PluginRequest): Promise<void> {
  await runDelegate(ipamType(request), command, request, request.stdin);
}
