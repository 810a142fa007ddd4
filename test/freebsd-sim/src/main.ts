// The entry point of every simulated tool: picks the tool by the executable's name,
// runs it against the shared state (the state file under its lock, or the resident
// kernel where one serves the directory: kernel.ts), logs it, prints, exits. jexec runs
// the simulated tool it names in this same process, inside the jail; it never starts a
// program of the machine the simulator runs on (exec-box.ts).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { aardvarkTool } from './aardvark.js';
import { fixturePath, resolveJexecCommand } from './exec-box.js';
import { callKernel, kernelSocket, type KernelMessage, type KernelReply } from './kernel.js';
import { runMonitor } from './monitor.js';
import { ToolError } from './model.js';
import { STATE_LOCK_TIMEOUT_MS, appendLog, pauseFile, stateFile, withState } from './state.js';
import { TOOLS, jexecStep, toolStep, type ToolRequest, type ToolStep } from './steps.js';
import type { ToolOutput } from './tool.js';


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

/** One message to the resident kernel serving `dir` (kernel.ts); its own trouble is the simulator's. */
async function askKernel(dir: string, message: KernelMessage): Promise<KernelReply> {
  const reply = await callKernel(dir, message, STATE_LOCK_TIMEOUT_MS).catch((error: Error) => {
    throw new SimulatorError(error.message);
  });
  if (reply.error !== undefined) throw new SimulatorError(reply.error);
  return reply;
}

/**
 * Where the state lives: in a resident kernel when one serves `dir` (its socket is
 * there), else in the state file, read and written under its lock by this process.
 */
const resident = (dir: string): boolean => existsSync(kernelSocket(dir));

async function stepTool(dir: string, request: ToolRequest): Promise<ToolStep> {
  if (resident(dir)) return (await askKernel(dir, { op: 'tool', request })).step as ToolStep;
  const run = await TOOLS[request.tool]!();
  return withState(dir, (state) => toolStep(state, run, request));
}

async function stepJexec(dir: string, argv: string[], key: string, caller: number): Promise<number> {
  if (!resident(dir)) return withState(dir, (state) => jexecStep(state, argv, key, caller));
  const reply = await askKernel(dir, { op: 'jexec', argv, key, caller });
  if (reply.toolError) throw new ToolError(reply.toolError.stderr, reply.toolError.exitCode, reply.toolError.stdout);
  return reply.jid as number;
}

/** Runs one simulated tool as the jail `jid`, logs it, and returns what it prints. */
async function runTool(dir: string, tool: string, argv: string[], jid: number): Promise<ToolOutput> {
  const request = { tool, argv, jid, stdin: readStdinIfNeeded(tool, argv), pausable: process.env.JAILNET_SIM_PAUSABLE === '1' };
  const { output, vnet, pause } = await stepTool(dir, request);
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
    jid = await stepJexec(dir, argv, key, caller);
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

/** `route monitor`: the step checks the command line as route(8) does; the monitor then runs on (monitor.ts). */
async function runRouteMonitor(dir: string, argv: string[]): Promise<void> {
  if (resident(dir)) throw new SimulatorError('route monitor is not simulated while a resident kernel serves the state');
  const request = { tool: 'route', argv, jid: callerJid(), stdin: '', pausable: process.env.JAILNET_SIM_PAUSABLE === '1' };
  const { output, vnet, pause } = await stepTool(dir, request);
  appendLog(dir, { argv: ['route', ...argv], context: contextName(request.jid), vnet, exitCode: output.exitCode });
  if (pause) await pauseForKill(dir, ['route', ...argv]);
  if (output.exitCode !== 0) return emit(output);
  await runMonitor(dir, vnet);
  process.exit(0);
}

/** aardvark-dns (aardvark.ts): logged and pausable as a tool, its server a process of its own. */
async function runAardvark(dir: string, argv: string[]): Promise<void> {
  if (resident(dir)) throw new SimulatorError('aardvark-dns is not simulated while a resident kernel serves the state');
  const { output, pause } = await aardvarkTool(dir, argv, process.env.JAILNET_SIM_PAUSABLE === '1');
  appendLog(dir, { argv: ['aardvark-dns', ...argv], context: contextName(0), vnet: 'host', exitCode: output.exitCode });
  if (pause) await pauseForKill(dir, ['aardvark-dns', ...argv]);
  return emit(output);
}

async function dispatch(tool: string, argv: string[]): Promise<void> {
  const dir = stateDir();
  if (tool === 'aardvark-dns') return runAardvark(dir, argv);
  if (tool === 'jexec') {
    await runJexec(dir, argv);
    return;
  }
  if (!TOOLS[tool]) throw new SimulatorError(`no simulated tool named ${tool}`);
  if (tool === 'route' && argv.includes('monitor')) return runRouteMonitor(dir, argv);
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
