// The plugin skeleton every jailnet CNI plugin runs in: environment and stdin in,
// validation, dispatch to the plugin's command, result or error JSON out.
import { parseCniArgs, type CniArgs } from './args.js';
import { CniError, ErrorCode, asCniError } from './errors.js';
import { PluginConfSchema, decodeJson, parseConfig, type PluginConf } from './netconf.js';
import { encodeJson } from './json.js';
import { formatResult, parseResult, type Result } from './result.js';
import { validateContainerId, validateCniInterfaceName, validateCniNetworkName } from './validate.js';
import {
  CURRENT_VERSION,
  isSupported,
  requireCommandAllowed,
  requireSupported,
  versionInfo,
  type CniCommand,
} from './versions.js';

export const MAX_STDIN_BYTES = 1024 * 1024;

export interface Attachment {
  containerID: string;
  ifname: string;
}

export interface PluginRequest {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  args: CniArgs;
  path: string[];
  cniVersion: string;
  /** The previous result of the chain, read from whichever spec version wrote it. */
  prevResult: Result | undefined;
  /** The whole stdin object: each plugin parses its own keys from it. */
  config: PluginConf;
  stdin: Buffer;
}

export interface Plugin {
  add(request: PluginRequest): Promise<Result>;
  del(request: PluginRequest): Promise<void>;
  check(request: PluginRequest): Promise<void>;
  gc(request: PluginRequest, valid: Attachment[]): Promise<void>;
  status(request: PluginRequest): Promise<void>;
}

export interface PluginIO {
  env: NodeJS.ProcessEnv;
  stdin: AsyncIterable<Buffer | string> | Iterable<Buffer | string>;
  writeStdout(text: string): void;
}

const REQUIRED_ENV: Record<Exclude<CniCommand, 'VERSION'>, string[]> = {
  ADD: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  GC: ['CNI_PATH'],
  STATUS: ['CNI_PATH'],
};

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION'];

export async function readBounded(stream: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, limit = MAX_STDIN_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size > limit) throw new CniError(ErrorCode.IOFailure, 'error reading from stdin', `input exceeds ${limit} bytes`);
      chunks.push(buffer);
    }
  } catch (error) {
    if (error instanceof CniError) throw error;
    throw new CniError(ErrorCode.IOFailure, 'error reading from stdin', (error as Error).message);
  }
  return Buffer.concat(chunks);
}

function readCommand(env: NodeJS.ProcessEnv): CniCommand {
  const command = env.CNI_COMMAND ?? '';
  if (command === '') throw new CniError(ErrorCode.InvalidEnvironment, 'required env variables [CNI_COMMAND] missing');
  if (!COMMANDS.includes(command)) throw new CniError(ErrorCode.InvalidEnvironment, `unknown CNI_COMMAND: ${command}`);
  return command as CniCommand;
}

interface SeenConfig {
  cniVersion?: string;
}

async function buildRequest(
  command: Exclude<CniCommand, 'VERSION'>,
  io: PluginIO,
  seen: SeenConfig,
): Promise<PluginRequest> {
  const env = io.env;
  const missing = REQUIRED_ENV[command].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new CniError(ErrorCode.InvalidEnvironment, `required env variables [${missing.join(' ')}] missing`);
  }
  const stdin = await readBounded(io.stdin);
  const decoded = decodeJson(stdin, 'network config');
  if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) {
    throw new CniError(ErrorCode.DecodingFailure, 'error unmarshalling network config', 'expected a JSON object');
  }
  const version = (decoded as { cniVersion?: unknown }).cniVersion;
  if (typeof version === 'string') seen.cniVersion = version;
  const config = parseConfig(PluginConfSchema, decoded);
  const cniVersion = requireSupported(config.cniVersion);
  requireCommandAllowed(cniVersion, command);
  validateCniNetworkName(config.name);
  const perAttachment = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  if (perAttachment) {
    validateContainerId(env.CNI_CONTAINERID ?? '');
    validateCniInterfaceName(env.CNI_IFNAME ?? '');
  }
  return {
    command,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifname: env.CNI_IFNAME ?? '',
    args: parseCniArgs(env.CNI_ARGS),
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
    cniVersion,
    prevResult: config.prevResult === undefined ? undefined : parseResult(config.prevResult, cniVersion),
    config,
    stdin,
  };
}

/** Attachments named by GC, under the 1.1.0 key or the legacy one libcni also sends. */
function validAttachments(config: PluginConf): Attachment[] {
  const legacy = (config as Record<string, unknown>)['cni.dev/attachments'];
  const list = config['cni.dev/valid-attachments'] ?? (Array.isArray(legacy) ? legacy : []);
  return list.map((a: { containerID: string; ifname: string }) => ({ containerID: a.containerID, ifname: a.ifname }));
}

async function dispatch(plugin: Plugin, io: PluginIO, seen: SeenConfig): Promise<string | undefined> {
  const command = readCommand(io.env);
  if (command === 'VERSION') {
    return encodeJson(versionInfo());
  }
  const request = await buildRequest(command, io, seen);
  switch (command) {
    case 'ADD':
      return encodeJson(formatResult(await plugin.add(request), request.cniVersion));
    case 'DEL':
      await plugin.del(request);
      return undefined;
    case 'CHECK':
      await plugin.check(request);
      return undefined;
    case 'GC':
      await plugin.gc(request, validAttachments(request.config));
      return undefined;
    case 'STATUS':
      await plugin.status(request);
      return undefined;
  }
}

/** Runs one plugin invocation and returns the process exit code. */
export async function runPlugin(plugin: Plugin, io: PluginIO): Promise<number> {
  const seen: SeenConfig = {};
  try {
    const output = await dispatch(plugin, io, seen);
    if (output !== undefined) io.writeStdout(output + '\n');
    return 0;
  } catch (error) {
    // Errors are written in the config's version when jailnet speaks it.
    const version = seen.cniVersion && isSupported(seen.cniVersion) ? seen.cniVersion : CURRENT_VERSION;
    io.writeStdout(encodeJson(asCniError(error).toJSON(version)) + '\n');
    return 1;
  }
}

/** The entry point of a plugin executable. */
export function pluginMain(plugin: Plugin): Promise<void> {
  return runPlugin(plugin, {
    env: process.env,
    stdin: process.stdin,
    writeStdout: (text) => process.stdout.write(text),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
