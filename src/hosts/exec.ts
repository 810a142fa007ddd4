// The one door every host command goes through: a tool looked up only in the tool
// path (never the caller's PATH), run by execa with an argv array and no shell, a
// timeout, captured output, and a debug line per run. In plan mode (`--dry-run`) it
// records a command that changes something instead of running it; a command that only
// reads (the driver says so) runs for real, since what is planned depends on it.
import { constants, accessSync, statSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { log } from '../log.js';
import { ChangePlan } from '../util/change-plan.js';
import { waitBudget } from '../util/deadline.js';

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
  /** The command only reads: it runs even in plan mode. */
  reads?: boolean;
  /**
   * The command forks a daemon that keeps its stdio (aardvark-dns run): its output goes to
   * this file (stdout is dropped) instead of pipes, which the daemon would hold open after the command exits.
   * The result's stderr is the file's text.
   */
  outputFile?: string;
}

export interface ExecDoor {
  readonly planning: boolean;
  /** Where tools are looked up: with the driver, the identity of the host this door reaches. */
  readonly toolPath: string;
  /** Where the changes go in plan mode, in order. */
  readonly changes: ChangePlan;
  /** Runs a host tool by name, looked up in the tool path. */
  run(tool: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /** The absolute path a tool name resolves to in the tool path (the bare name in plan mode if it is missing). */
  which(tool: string): string;
  /** Runs an executable by absolute path (CNI plugins). */
  runFile(file: string, args: readonly string[], options?: RunOptions): Promise<CommandResult>;
  /**
   * Starts a host tool that keeps running on its own (a namespace holder), with no
   * stdio, and returns its pid without waiting for it.
   */
  spawnDetached(tool: string, args: readonly string[]): Promise<number>;
  /**
   * Starts a tool that reports for as long as it runs (route monitor, ip monitor): each
   * line of its stdout to `onLine`. It reads only; it is this process's child, stopped
   * with stop() (SIGTERM, then SIGKILL) and never left behind by a caller that stops it.
   */
  watch(tool: string, args: readonly string[], onLine: (line: string) => void): Watch;
  /**
   * Runs a program the admin configured (an absolute path: [netmon] path) in the
   * foreground, on this process's own stdio, with `env` added, until it exits or is
   * stopped; not in plan mode.
   */
  runInForeground(file: string, args: readonly string[], env: NodeJS.ProcessEnv): Watch;
  /**
   * Starts a program of jailnet's own (an absolute path: jailnetd, started by a call that
   * found none) detached, in its own session, at `/`, with exactly `env` and its output
   * appended to an open file; returns its pid, undefined when it could not start. Not in
   * plan mode.
   */
  startProgram(file: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; outputFd: number }): Promise<number | undefined>;
}

export interface Watch {
  /** The tool's exit status (null when a signal ended it); resolves once it has exited. */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface ExecOptions {
  toolPath?: string;
  timeoutMs?: number;
  /** With a planning plan, changes are recorded in it instead of made. */
  plan?: ChangePlan;
  /** The environment commands run with; the caller's PATH never reaches tool lookup. */
  env?: NodeJS.ProcessEnv;
}

/** A host command's time when no caller set a deadline. */
const DEFAULT_COMMAND_MS = 60_000;
/** Even a call at its deadline gives a command this long: execa takes 0 for "no limit". */
const MIN_COMMAND_MS = 1_000;

type Execa = typeof import('execa')['execa'];
let loaded: Promise<Execa> | undefined;

/** execa, loaded the first time a command runs: a plugin with nothing to do starts ~0.1 s sooner. */
function execaOnce(): Promise<Execa> {
  loaded ??= import('execa').then((module) => module.execa);
  return loaded;
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

/** A tool name looked up in the tool path only, once per door. */
function toolResolver(toolPath: string): (tool: string) => string {
  const resolved = new Map<string, string>();
  return (tool) => {
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
}

/** Runs one command: argv array, no shell, bounded, output captured; fails loudly unless allowed. */
async function execute(file: string, shownArgv: string[], args: string[], runOptions: RunOptions, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CommandResult> {
  const started = performance.now();
  const execa = await execaOnce();
  const output = runOptions.outputFile ? { stdout: 'ignore' as const, stderr: { file: runOptions.outputFile } } : {};
  const run = await execa(file, args, {
    shell: false,
    reject: false,
    timeout: timeoutMs,
    input: runOptions.input ?? '',
    env: { ...env, ...runOptions.env },
    extendEnv: false,
    stripFinalNewline: false,
    ...output,
  });
  if (runOptions.outputFile) run.stderr = await readFile(runOptions.outputFile, 'utf8').catch(() => '');
  const result: CommandResult = {
    argv: shownArgv,
    exitCode: run.exitCode ?? -1,
    stdout: String(run.stdout ?? ''),
    stderr: String(run.stderr ?? ''),
    durationMs: Math.round(performance.now() - started),
  };
  if (run.exitCode === undefined) {
    const signal = (run as { signal?: string }).signal;
    result.startError = run.timedOut ? 'ETIMEDOUT' : signal ? `killed by ${signal}` : String((run as { code?: unknown }).code ?? 'ESPAWN');
    result.stderr ||= run.shortMessage ?? '';
  }
  log().debug({ argv: shownArgv, exitCode: result.exitCode, ms: result.durationMs }, 'host command');
  if (result.exitCode !== 0 && !runOptions.allowFailure) throw new HostCommandError(result);
  return result;
}

/** Starts a tool that keeps running on its own, with no stdio, and returns its pid. */
async function startDetached(file: string, shownArgv: string[], args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const execa = await execaOnce();
  const child = execa(file, args, { shell: false, detached: true, stdio: 'ignore', env, extendEnv: false, reject: false });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new HostCommandError({ argv: shownArgv, exitCode: -1, stdout: '', stderr: 'could not start', durationMs: 0, startError: 'ESPAWN' });
  log().debug({ argv: shownArgv, pid }, 'host command started');
  return pid;
}

async function startProgram(file: string, args: string[], options: { env: NodeJS.ProcessEnv; outputFd: number }): Promise<number | undefined> {
  // At /: a caller's working directory may be a mount that goes away while the program runs.
  const child = spawn(file, args, { cwd: '/', detached: true, shell: false, stdio: ['ignore', options.outputFd, options.outputFd], env: options.env });
  const pid = await new Promise<number | undefined>((resolve) => {
    child.once('spawn', () => resolve(child.pid));
    child.once('error', () => resolve(undefined));
  });
  child.unref();
  log().debug({ argv: [file, ...args], pid }, 'program started');
  return pid;
}

/** How long a watched tool has to exit on SIGTERM before SIGKILL. */
const WATCH_STOP_MS = 2_000;

function startForeground(file: string, args: string[], env: NodeJS.ProcessEnv): Watch {
  const child = spawn(file, args, { shell: false, stdio: 'inherit', env });
  log().debug({ argv: [file, ...args], pid: child.pid }, 'host program started');
  return watchOf(child);
}

/** A started child as a Watch: its exit, and a stop that escalates to SIGKILL. */
function watchOf(child: ChildProcess): Watch {
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(-1));
    child.once('exit', (code) => resolve(code));
  });
  return {
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), WATCH_STOP_MS);
      await exited;
      clearTimeout(killer);
    },
  };
}

function startWatch(file: string, shownArgv: string[], args: string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): Watch {
  const child = spawn(file, args, { shell: false, stdio: ['ignore', 'pipe', 'ignore'], env });
  log().debug({ argv: shownArgv, pid: child.pid }, 'host watch started');
  let rest = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') onLine(line);
  });
  return watchOf(child);
}

/** Whether the door's tool path has `tool` (optional tools: conntrack, modprobe, …). */
export function hasTool(door: Pick<ExecDoor, 'which'>, tool: string): boolean {
  try {
    door.which(tool);
    return true;
  } catch {
    return false;
  }
}

export function createExecDoor(options: ExecOptions = {}): ExecDoor {
  const toolPath = options.toolPath ?? toolPathFromEnv(options.env);
  const env = options.env ?? process.env;
  // A host command gets the time its call has left (JAILNET_DEADLINE, less the rollback
  // reserve; all of it while undoing), or a minute when no caller set a deadline: a tool
  // that waits its turn on a busy host is not killed while its caller still waits for it.
  const timeoutFor = () => options.timeoutMs ?? Math.max(MIN_COMMAND_MS, waitBudget(DEFAULT_COMMAND_MS));
  const changes = options.plan ?? new ChangePlan(false);
  const planning = changes.planning;
  const resolveTool = toolResolver(toolPath);
  /** A command that changes something is recorded, and in plan mode not run; one that only reads runs. */
  const runOrPlan = async (file: string, shownArgv: string[], args: string[], runOptions: RunOptions): Promise<CommandResult> => {
    if (!runOptions.reads) changes.host(shownArgv);
    if (planning && !runOptions.reads) return { argv: shownArgv, exitCode: 0, stdout: '', stderr: '', durationMs: 0 };
    return execute(file, shownArgv, args, runOptions, env, timeoutFor());
  };

  return {
    planning,
    toolPath,
    changes,
    which(tool) {
      try {
        return resolveTool(tool);
      } catch (error) {
        // A plan may name a tool this machine lacks: the plan is for the host it describes.
        if (planning && error instanceof ToolNotFoundError) return tool;
        throw error;
      }
    },
    async run(tool, args, runOptions = {}) {
      assertArgv(args);
      const file = planning && !runOptions.reads ? tool : resolveTool(tool);
      return runOrPlan(file, [tool, ...args], [...args], runOptions);
    },
    runInForeground(file, args, extraEnv) {
      assertArgv(args);
      if (!path.isAbsolute(file)) throw new TypeError(`runInForeground needs an absolute path: ${file}`);
      if (planning) throw new Error('nothing is started while planning');
      return startForeground(file, [...args], { ...env, ...extraEnv });
    },
    async startProgram(file, args, options) {
      assertArgv(args);
      if (!path.isAbsolute(file)) throw new TypeError(`startProgram needs an absolute path: ${file}`);
      if (planning) throw new Error('nothing is started while planning');
      return startProgram(file, [...args], options);
    },
    watch(tool, args, onLine) {
      assertArgv(args);
      if (planning) throw new Error('nothing is watched while planning');
      return startWatch(resolveTool(tool), [tool, ...args], [...args], env, onLine);
    },
    async spawnDetached(tool, args) {
      assertArgv(args);
      changes.host([tool, ...args]);
      if (!planning) return startDetached(resolveTool(tool), [tool, ...args], [...args], env);
      return 0;
    },
    async runFile(file, args, runOptions = {}) {
      assertArgv(args);
      if (!path.isAbsolute(file)) throw new TypeError(`runFile needs an absolute path: ${file}`);
      return runOrPlan(file, [file, ...args], [...args], runOptions);
    },
  };
}
