// The one door every host command goes through: a tool looked up only in the tool
// path (never the caller's PATH), run by execa with an argv array and no shell, a
// timeout, captured output, and a debug line per run. In plan mode it records the
// argv instead of running anything; that is `--dry-run`.
import { constants, accessSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { log } from '../log.js';

export const DEFAULT_TOOL_PATH = '/sbin:/usr/sbin:/bin:/usr/bin';

export interface CommandResult {
  argv: string[];
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Set when the command could not start at all (ENOENT, ETXTBSY …) or timed out. */
  startError?: string;
}

export class HostCommandError extends Error {
  constructor(readonly result: CommandResult) {
    const text = result.stderr.trim() || result.stdout.trim() || `exit code ${result.exitCode}`;
    super(`${result.argv.join(' ')}: ${text.split('\n')[0]}`);
    this.name = 'HostCommandError';
  }
}

export interface RunOptions {
  /** Bytes for the command's stdin (pfctl -f -). */
  input?: string;
  /** Return a failed result instead of throwing. */
  allowFailure?: boolean;
  /** Extra environment for this command only. */
  env?: Record<string, string>;
}

export interface ExecDoor {
  readonly planning: boolean;
  /** The argv lists recorded in plan mode, in order. */
  readonly plan: string[][];
  /** Runs a host tool by name, looked up in the tool path. */
  run(tool: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** The absolute path a tool name resolves to in the tool path (the bare name in plan mode). */
  which(tool: string): string;
  /** Runs an executable by absolute path (CNI plugins). */
  runFile(file: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * Starts a host tool that keeps running on its own (a namespace holder), with no
   * stdio, and returns its pid without waiting for it.
   */
  spawnDetached(tool: string, args: readonly string[]): Promise<number>;
}

export interface ExecOptions {
  toolPath?: string;
  timeoutMs?: number;
  planning?: boolean;
  /** The environment commands run with; the caller's PATH never reaches tool lookup. */
  env?: NodeJS.ProcessEnv;
}

export function toolPathFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAILNET_TOOL_PATH || DEFAULT_TOOL_PATH;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

export class ToolNotFoundError extends Error {
  constructor(tool: string, toolPath: string) {
    super(`${tool}: not found in the tool path ${toolPath}`);
    this.name = 'ToolNotFoundError';
  }
}

function assertArgv(args: readonly unknown[]): asserts args is string[] {
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
    throw new TypeError('host commands take an argv array of strings');
  }
}

export function createExecDoor(options: ExecOptions = {}): ExecDoor {
  const toolPath = options.toolPath ?? toolPathFromEnv(options.env);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const planning = options.planning ?? false;
  const plan: string[][] = [];
  const resolved = new Map<string, string>();

  const resolveTool = (tool: string): string => {
    if (tool.includes('/')) throw new TypeError(`tool names are looked up in the tool path, not given as paths: ${tool}`);
    const cached = resolved.get(tool);
    if (cached) return cached;
    for (const dir of toolPath.split(':').filter(Boolean)) {
      const candidate = path.join(dir, tool);
      if (isExecutableFile(candidate)) {
        resolved.set(tool, candidate);
        return candidate;
      }
    }
    throw new ToolNotFoundError(tool, toolPath);
  };

  const execute = async (file: string, shownArgv: string[], args: string[], runOptions: RunOptions): Promise<CommandResult> => {
    if (planning) {
      plan.push(shownArgv);
      return { argv: shownArgv, exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
    }
    const started = performance.now();
    const run = await execa(file, args, {
      shell: false,
      reject: false,
      timeout: timeoutMs,
      input: runOptions.input ?? '',
      env: { ...(options.env ?? process.env), ...runOptions.env },
      extendEnv: false,
      stripFinalNewline: false,
    });
    const result: CommandResult = {
      argv: shownArgv,
      exitCode: run.exitCode ?? -1,
      stdout: String(run.stdout ?? ''),
      stderr: String(run.stderr ?? ''),
      durationMs: Math.round(performance.now() - started),
    };
    if (run.exitCode === undefined) {
      result.startError = run.timedOut ? 'ETIMEDOUT' : String((run as { code?: unknown }).code ?? 'ESPAWN');
      result.stderr ||= run.shortMessage ?? '';
    }
    log().debug({ argv: shownArgv, exitCode: result.exitCode, ms: result.durationMs }, 'host command');
    if (result.exitCode !== 0 && !runOptions.allowFailure) throw new HostCommandError(result);
    return result;
  };

  return {
    planning,
    plan,
    which(tool) {
      return planning ? tool : resolveTool(tool);
    },
    async run(tool, args, runOptions = {}) {
      assertArgv(args);
      // Plan mode shows the bare tool name: the plan is for a FreeBSD host, not this one.
      const file = planning ? tool : resolveTool(tool);
      return execute(file, [tool, ...args], [...args], runOptions);
    },
    async spawnDetached(tool, args) {
      assertArgv(args);
      const shownArgv = [tool, ...args];
      if (planning) {
        plan.push(shownArgv);
        return 0;
      }
      const child = execa(resolveTool(tool), [...args], {
        shell: false,
        detached: true,
        stdio: 'ignore',
        env: options.env ?? process.env,
        extendEnv: false,
        reject: false,
      });
      child.unref();
      const pid = child.pid;
      if (pid === undefined) throw new HostCommandError({ argv: shownArgv, exitCode: -1, stdout: '', stderr: 'could not start', durationMs: 0, startError: 'ESPAWN' });
      log().debug({ argv: shownArgv, pid }, 'host command started');
      return pid;
    },
    async runFile(file, args, runOptions = {}) {
      assertArgv(args);
      if (!path.isAbsolute(file)) throw new TypeError(`runFile needs an absolute path: ${file}`);
      return execute(file, [file, ...args], [...args], runOptions);
    },
  };
}
