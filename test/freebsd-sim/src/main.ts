// The entry point of every simulated tool: picks the tool by the executable's name,
// runs it against the shared state under the lock, logs it, prints, exits.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ifconfig } from './ifconfig.js';
import { jailTool, jexecTarget, jls } from './jail.js';
import { kldload, kldstat } from './kld.js';
import { ToolError, contextVnet, lookupJail, reap } from './model.js';
import { pfctl } from './pfctl.js';
import { netstat, route } from './route.js';
import { appendLog, stateFile, withState, type SimState } from './state.js';
import { sysctl } from './sysctl.js';
import type { ToolContext, ToolOutput } from './tool.js';

const TOOLS: Record<string, (ctx: ToolContext, argv: string[]) => ToolOutput> = {
  ifconfig,
  route,
  netstat,
  jail: jailTool,
  jls,
  pfctl,
  sysctl,
  kldload,
  kldstat,
};

function stateDir(): string {
  const dir = process.env.JAILNET_SIM_STATE;
  if (!dir) {
    process.stderr.write('freebsd-sim: JAILNET_SIM_STATE is not set\n');
    process.exit(70);
  }
  if (!existsSync(stateFile(dir))) {
    process.stderr.write(`freebsd-sim: no simulator state in ${dir} (run simctl init)\n`);
    process.exit(70);
  }
  return dir;
}

function callerJid(): number {
  return Number(process.env.JAILNET_SIM_JAIL ?? 0) || 0;
}

function contextName(jid: number): string {
  return jid === 0 ? 'host' : `jail:${jid}`;
}

function emit(output: ToolOutput): never {
  if (output.stdout) process.stdout.write(output.stdout);
  if (output.stderr) process.stderr.write(output.stderr);
  process.exitCode = output.exitCode;
  // Let the streams drain before exiting.
  process.stdout.write('', () => process.exit(output.exitCode));
  return undefined as never;
}

function readStdinIfNeeded(tool: string, argv: string[]): string {
  const fIndex = argv.indexOf('-f');
  if (tool === 'pfctl' && fIndex >= 0 && argv[fIndex + 1] === '-') return readFileSync(0, 'utf8');
  return '';
}

/** The vnet a command acts in: the caller's, or the one `-j J` names. */
export const INJECTED_FAILURE = 'freebsd-sim: injected failure\n';

/** Counts the invocation; true when the test asked this one to fail (nothing changes then). */
function injectedFailure(state: SimState): boolean {
  state.commandCount = (state.commandCount ?? 0) + 1;
  return state.failAt === state.commandCount;
}

function targetVnet(state: SimState, tool: string, argv: string[], jid: number): string {
  const flag = argv.indexOf('-j');
  if (flag >= 0 && ['ifconfig', 'route', 'netstat'].includes(tool)) {
    const jail = lookupJail(state, argv[flag + 1] ?? '', jid);
    if (jail) return jail.vnetId;
  }
  return contextVnet(state, jid);
}

async function runTool(tool: string, argv: string[]): Promise<void> {
  const dir = stateDir();
  const jid = callerJid();
  const stdin = readStdinIfNeeded(tool, argv);
  const { output, vnet, kill } = await withState(dir, (state) => {
    reap(state);
    const vnet = targetVnet(state, tool, argv, jid);
    const kill = state.killAt !== undefined && state.killAt === state.commandCount + 1 && process.env.JAILNET_SIM_KILLABLE === '1';
    if (injectedFailure(state)) return { output: { stdout: '', stderr: INJECTED_FAILURE, exitCode: 1 }, vnet, kill };
    try {
      return { output: TOOLS[tool]!({ state, callerJid: jid, stdin }, argv), vnet, kill };
    } catch (error) {
      if (error instanceof ToolError) return { output: { stdout: error.stdout, stderr: error.stderr, exitCode: error.exitCode }, vnet, kill };
      throw error;
    }
  });
  appendLog(dir, { argv: [tool, ...argv], context: contextName(jid), vnet, exitCode: output.exitCode });
  // A crash right after the command took effect: the caller never sees its result.
  if (kill) process.kill(0, 'SIGKILL');
  emit(output);
}

/** jexec resolves the jail under the lock, then runs the command outside it, in that jail. */
async function runJexec(argv: string[]): Promise<void> {
  const dir = stateDir();
  const caller = callerJid();
  const args = [...argv];
  while (args[0]?.startsWith('-')) {
    const option = args.shift() as string;
    if (option === '-u' || option === '-U' || option === '-d') args.shift();
  }
  const key = args.shift();
  if (key === undefined) {
    appendLog(dir, { argv: ['jexec', ...argv], context: contextName(caller), vnet: 'host', exitCode: 1 });
    emit({ stdout: '', stderr: 'usage: jexec [-l] [-d working-directory] [-u username | -U username] jail\n       [command ...]\n', exitCode: 1 });
  }
  let jid: number;
  try {
    jid = await withState(dir, (state) => {
      reap(state);
      if (injectedFailure(state)) throw new ToolError(INJECTED_FAILURE, 1);
      return jexecTarget(state, key as string, caller).jid;
    });
  } catch (error) {
    if (!(error instanceof ToolError)) throw error;
    appendLog(dir, { argv: ['jexec', ...argv], context: contextName(caller), vnet: 'host', exitCode: error.exitCode });
    return emit({ stdout: '', stderr: error.stderr, exitCode: error.exitCode });
  }
  const command = args.length > 0 ? args : ['/bin/sh'];
  const child = spawn(command[0] as string, command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, JAILNET_SIM_JAIL: String(jid) },
  });
  child.on('error', (error) => {
    appendLog(dir, { argv: ['jexec', ...argv], context: contextName(caller), vnet: 'host', exitCode: 1 });
    emit({ stdout: '', stderr: `jexec: execvp: ${command[0]}: ${error.message}\n`, exitCode: 1 });
  });
  child.on('close', (code) => {
    appendLog(dir, { argv: ['jexec', ...argv], context: contextName(caller), vnet: 'host', exitCode: code ?? 1 });
    process.exit(code ?? 1);
  });
}

export async function main(argv0: string, argv: string[]): Promise<void> {
  const tool = path.basename(argv0);
  if (tool === 'jexec') return runJexec(argv);
  if (!TOOLS[tool]) {
    process.stderr.write(`freebsd-sim: no simulated tool named ${tool}\n`);
    process.exit(70);
  }
  return runTool(tool, argv);
}
