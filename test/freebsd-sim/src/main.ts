// The entry point of every simulated tool: picks the tool by the executable's name,
// runs it against the shared state under the lock, logs it, prints, exits. jexec runs
// the simulated tool it names in this same process, inside the jail; it never starts a
// program of the machine the simulator runs on (exec-box.ts).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixturePath, resolveJexecCommand } from './exec-box.js';
import { jexecTarget } from './jail.js';
import { ToolError, contextVnet, lookupJail, reap } from './model.js';
import { appendLog, pauseFile, stateFile, withState, type SimState } from './state.js';
import type { ToolContext, ToolOutput } from './tool.js';

type Tool = (ctx: ToolContext, argv: string[]) => ToolOutput;

/** Each tool's module is loaded only by the tool that needs it: every simulated command starts a process. */
const TOOLS: Record<string, () => Promise<Tool>> = {
  ifconfig: async () => (await import('./ifconfig.js')).ifconfig,
  route: async () => (await import('./route.js')).route,
  netstat: async () => (await import('./route.js')).netstat,
  jail: async () => (await import('./jail.js')).jailTool,
  jls: async () => (await import('./jail.js')).jls,
  pfctl: async () => (await import('./pfctl.js')).pfctl,
  sysctl: async () => (await import('./sysctl.js')).sysctl,
  kldload: async () => (await import('./kld.js')).kldload,
  kldstat: async () => (await import('./kld.js')).kldstat,
};

/** The simulator's own failures (not a FreeBSD tool's): one line, EX_SOFTWARE. */
class SimulatorError extends Error {}

function stateDir(): string {
  const dir = process.env.JAILNET_SIM_STATE;
  if (!dir) throw new SimulatorError('JAILNET_SIM_STATE is not set');
  if (!existsSync(stateFile(dir))) throw new SimulatorError(`no simulator state in ${dir} (run simctl init)`);
  return dir;
}

function callerJid(): number {
  return Number(process.env.JAILNET_SIM_JAIL ?? 0) || 0;
}

function contextName(jid: number): string {
  return jid === 0 ? 'host' : `jail:${jid}`;
}

async function emit(output: ToolOutput): Promise<never> {
  if (output.stdout) process.stdout.write(output.stdout);
  if (output.stderr) process.stderr.write(output.stderr);
  // Let the streams drain before exiting.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(output.exitCode);
}

function readStdinIfNeeded(tool: string, argv: string[]): string {
  const fIndex = argv.indexOf('-f');
  if (tool === 'pfctl' && fIndex >= 0 && argv[fIndex + 1] === '-') return readFileSync(0, 'utf8');
  return '';
}

export const INJECTED_FAILURE = 'freebsd-sim: injected failure\n';

/** Counts the invocation; true when the test asked this one to fail (nothing changes then). */
function injectedFailure(state: SimState, argv: string[]): boolean {
  state.commandCount = (state.commandCount ?? 0) + 1;
  const line = argv.join(' ');
  return state.failAt === state.commandCount || (state.failOn ?? []).some((prefix) => line.startsWith(prefix));
}

/**
 * Whether this invocation is the one a test wants to crash right after: it then stops
 * here, with its effect in place, until the test kills the process group it started
 * (only processes the test marked JAILNET_SIM_PAUSABLE ever stop).
 */
function pausesHere(state: SimState): boolean {
  return state.pauseAt !== undefined && state.pauseAt === state.commandCount && process.env.JAILNET_SIM_PAUSABLE === '1';
}

const PAUSE_LIMIT_MS = 120_000;

async function pauseForKill(dir: string, argv: string[]): Promise<void> {
  // Whole or not at all: the test reads it as soon as it appears.
  const temp = `${pauseFile(dir)}.tmp-${process.pid}`;
  writeFileSync(temp, JSON.stringify({ pid: process.pid, argv }));
  renameSync(temp, pauseFile(dir));
  // Bounded: a test that never kills gets a failure, not a process that waits forever.
  await sleep(PAUSE_LIMIT_MS);
  throw new SimulatorError(`paused after ${argv.join(' ')} for ${PAUSE_LIMIT_MS} ms and nobody killed it`);
}

function targetVnet(state: SimState, tool: string, argv: string[], jid: number): string {
  const flag = argv.indexOf('-j');
  if (flag >= 0 && ['ifconfig', 'route', 'netstat'].includes(tool)) {
    const jail = lookupJail(state, argv[flag + 1] ?? '', jid);
    if (jail) return jail.vnetId;
  }
  return contextVnet(state, jid);
}

/** Runs one simulated tool as the jail `jid`, logs it, and returns what it prints. */
async function runTool(dir: string, tool: string, argv: string[], jid: number): Promise<ToolOutput> {
  const stdin = readStdinIfNeeded(tool, argv);
  const run = await TOOLS[tool]!();
  const { output, vnet, pause } = await withState(dir, (state) => {
    reap(state);
    const vnet = targetVnet(state, tool, argv, jid);
    if (injectedFailure(state, [tool, ...argv])) return { output: { stdout: '', stderr: INJECTED_FAILURE, exitCode: 1 }, vnet, pause: false };
    const pause = pausesHere(state);
    try {
      return { output: run({ state, callerJid: jid, stdin }, argv), vnet, pause };
    } catch (error) {
      if (error instanceof ToolError) return { output: { stdout: error.stdout, stderr: error.stderr, exitCode: error.exitCode }, vnet, pause };
      throw error;
    }
  });
  appendLog(dir, { argv: [tool, ...argv], context: contextName(jid), vnet, exitCode: output.exitCode });
  // A crash right after the command took effect: the caller never sees its result.
  if (pause) await pauseForKill(dir, [tool, ...argv]);
  return output;
}

const JEXEC_USAGE = 'usage: jexec [-l] [-d working-directory] [-u username | -U username] jail\n       [command ...]\n';

/** jexec's own options, as getopt("d:lnu:U:") in jexec.c takes them. */
function jexecOperands(argv: string[]): string[] {
  const args = [...argv];
  while (args[0]?.startsWith('-')) {
    const option = args.shift() as string;
    if (option === '-u' || option === '-U' || option === '-d') args.shift();
  }
  return args;
}

/** Starts a fixture program the test named, inside the jail, with only simulated tools on PATH. */
function runFixture(dir: string, file: string, args: string[], jid: number): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, PATH: fixturePath(dir), JAILNET_SIM_JAIL: String(jid) } });
    child.on('error', (error) => {
      process.stderr.write(`jexec: execvp: ${file}: ${error.message}\n`);
      resolve(1);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

/** jexec resolves the jail under the lock, then runs the command in that jail. */
async function runJexec(dir: string, argv: string[]): Promise<number> {
  const caller = callerJid();
  const [key, ...command] = jexecOperands(argv);
  const logJexec = (exitCode: number) => appendLog(dir, { argv: ['jexec', ...argv], context: contextName(caller), vnet: 'host', exitCode });
  if (key === undefined) {
    logJexec(1);
    return emit({ stdout: '', stderr: JEXEC_USAGE, exitCode: 1 });
  }
  let jid: number;
  try {
    jid = await withState(dir, (state) => {
      reap(state);
      if (injectedFailure(state, ['jexec', ...argv])) throw new ToolError(INJECTED_FAILURE, 1);
      return jexecTarget(state, key, caller).jid;
    });
  } catch (error) {
    if (!(error instanceof ToolError)) throw error;
    logJexec(error.exitCode);
    return emit({ stdout: '', stderr: error.stderr, exitCode: error.exitCode });
  }
  // Without a command jexec runs the user's shell, which the simulator does not have.
  const [file = '/bin/sh', ...args] = command;
  const target = resolveJexecCommand(file, process.env);
  if (target.kind === 'missing') {
    logJexec(1);
    return emit({ stdout: '', stderr: target.stderr, exitCode: 1 });
  }
  if (target.kind === 'fixture') {
    const code = await runFixture(dir, target.file, args, jid);
    logJexec(code);
    process.exit(code);
  }
  const output = await runTool(dir, target.tool, args, jid);
  logJexec(output.exitCode);
  return emit(output);
}

async function dispatch(tool: string, argv: string[]): Promise<void> {
  const dir = stateDir();
  if (tool === 'jexec') {
    await runJexec(dir, argv);
    return;
  }
  if (!TOOLS[tool]) throw new SimulatorError(`no simulated tool named ${tool}`);
  await emit(await runTool(dir, tool, argv, callerJid()));
}

export async function main(argv0: string, argv: string[]): Promise<void> {
  try {
    await dispatch(path.basename(argv0), argv);
  } catch (error) {
    // Never a stack trace: the simulator's own trouble (a lock it waited too long for) in one line.
    const message = error instanceof Error ? error.message : String(error);
    await emit({ stdout: '', stderr: `freebsd-sim: ${message.split('\n')[0]}\n`, exitCode: 70 });
  }
}
