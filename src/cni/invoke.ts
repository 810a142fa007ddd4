// Running a plugin executable as libcni does: found in the plugin directories, the
// CNI_* variables on top of the caller's environment, the config on stdin, the
// result or the error JSON read from stdout.
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { createExecDoor } from '../hosts/exec.js';
import { callDeadline, DEADLINE_ENV, DEFAULT_PLUGIN_TIMEOUT_MS, isUndoing, ROLLBACK_RESERVE_MS } from '../util/deadline.js';
import { CniError, ErrorCode } from './errors.js';
import { decodeJson } from './netconf.js';
import type { CniCommand } from './versions.js';

export interface InvokeEnv {
  command: CniCommand;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path: string[];
}

export interface Invoker {
  /** Returns the plugin's stdout decoded, or undefined when it printed nothing. */
  invoke(type: string, env: InvokeEnv, stdin: unknown): Promise<unknown>;
}

export async function findPlugin(type: string, dirs: string[]): Promise<string> {
  // A type is a file name in the plugin dirs; a path could name any executable.
  if (type === '' || type.includes('/') || type === '.' || type === '..') {
    throw new CniError(ErrorCode.InvalidConfig, `invalid plugin type "${type}"`, 'a plugin type is a file name, not a path');
  }
  for (const dir of dirs) {
    const candidate = path.join(dir, type);
    try {
      await fs.access(candidate, constants.X_OK);
      if ((await fs.stat(candidate)).isFile()) return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new CniError(ErrorCode.PluginNotFound, `failed to find plugin "${type}" in path [${dirs.join(' ')}]`);
}

export function cniEnvironment(env: InvokeEnv): Record<string, string> {
  return {
    CNI_COMMAND: env.command,
    CNI_CONTAINERID: env.containerId ?? '',
    CNI_NETNS: env.netns ?? '',
    CNI_IFNAME: env.ifname ?? '',
    CNI_ARGS: env.args ?? '',
    CNI_PATH: env.path.join(':'),
  };
}

/**
 * A plugin that gave no answer: killed, timed out, crashed, or printed no error JSON.
 * What it changed is unknown, so whoever ran it must DEL it (ChainRunner.add does).
 */
export class NoAnswerError extends CniError {}

export function pluginError(type: string, command: CniCommand, stdout: string, stderr: string, exitCode: number): CniError {
  const what = `plugin type="${type}" failed (${command.toLowerCase()})`;
  if (stdout.trim() === '') return new NoAnswerError(ErrorCode.PluginFailed, what, stderr.trim() || `exit code ${exitCode}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return new NoAnswerError(ErrorCode.PluginFailed, what, `unparsable error output: ${stdout.trim().slice(0, 200)}`);
  }
  const error = parsed as { code?: unknown; msg?: unknown; details?: unknown };
  const code = typeof error.code === 'number' ? error.code : ErrorCode.PluginFailed;
  const msg = typeof error.msg === 'string' ? error.msg : 'unknown error';
  const details = typeof error.details === 'string' ? error.details : '';
  return new CniError(code, `${what}: ${msg}`, details);
}

const TEXT_FILE_BUSY_RETRIES = 5;
/** A plugin past its deadline gets this long to answer before it is killed. */
export const KILL_GRACE_MS = 5_000;

export interface InvokerOptions {
  /** The time each plugin call has, unless this process itself runs under a deadline. */
  timeoutMs?: number;
}

/**
 * The deadline a plugin is told (JAILNET_DEADLINE): this process's own, or now plus the
 * timeout. A call made while undoing gets the reserve too, so its waits end by ours.
 */
function childDeadline(baseEnv: NodeJS.ProcessEnv, timeoutMs: number): number {
  const own = callDeadline(baseEnv) ?? callDeadline();
  if (own === undefined) return Date.now() + timeoutMs;
  return isUndoing() ? own + ROLLBACK_RESERVE_MS : own;
}

export function execInvoker(baseEnv: NodeJS.ProcessEnv = process.env, options: InvokerOptions = {}): Invoker {
  const timeoutMs = options.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  return {
    async invoke(type, env, stdin) {
      const file = await findPlugin(type, env.path);
      const deadline = childDeadline(baseEnv, timeoutMs);
      const door = createExecDoor({ env: baseEnv, timeoutMs: Math.max(1, deadline - Date.now()) + KILL_GRACE_MS });
      const pluginEnv = { ...cniEnvironment(env), [DEADLINE_ENV]: String(deadline) };
      for (let attempt = 1; ; attempt++) {
        const run = await door.runFile(file, [], { input: JSON.stringify(stdin), env: pluginEnv, allowFailure: true });
        if (run.stderr && !run.startError) process.stderr.write(run.stderr);
        // An executable being replaced (an upgrade) cannot start for a moment.
        if (run.startError === 'ETXTBSY' && attempt < TEXT_FILE_BUSY_RETRIES) continue;
        if (run.startError === 'ETIMEDOUT') {
          throw new NoAnswerError(ErrorCode.PluginFailed, `plugin type="${type}" did not answer in time and was killed`, `deadline ${new Date(deadline).toISOString()}`);
        }
        if (run.startError) {
          throw new NoAnswerError(ErrorCode.PluginFailed, `plugin type="${type}" could not run`, run.stderr);
        }
        if (run.exitCode !== 0) throw pluginError(type, env.command, run.stdout, run.stderr, run.exitCode);
        return run.stdout.trim() === '' ? undefined : decodeJson(run.stdout, `output of plugin ${type}`);
      }
    },
  };
}
