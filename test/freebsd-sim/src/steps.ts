// The state-side half of one simulated command: what it does to the state and what it
// prints, given the state. The same steps run under the state file's lock (main.ts) and
// in the resident kernel (kernel.ts), so the two stores cannot behave differently.
import { jexecTarget } from './jail.js';
import { ToolError, contextVnet, lookupJail, reap } from './model.js';
import type { SimState } from './state.js';
import type { ToolContext, ToolOutput } from './tool.js';

export type Tool = (ctx: ToolContext, argv: string[]) => ToolOutput;

/** Each tool's module is loaded only by the tool that needs it: every simulated command starts a process. */
export const TOOLS: Record<string, () => Promise<Tool>> = {
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

export const INJECTED_FAILURE = 'freebsd-sim: injected failure\n';

/** One tool invocation as the state sees it. */
export interface ToolRequest {
  tool: string;
  argv: string[];
  /** The jail it runs as (0: the host). */
  jid: number;
  stdin: string;
  /** Started by a test that may kill it (JAILNET_SIM_PAUSABLE=1): only such a process pauses. */
  pausable: boolean;
}

export interface ToolStep {
  output: ToolOutput;
  /** The vnet it acted in, for the log. */
  vnet: string;
  /** It is the command a test wants to crash right after. */
  pause: boolean;
}

/** Counts the invocation; true when the test asked this one to fail (nothing changes then). */
export function injectedFailure(state: SimState, argv: string[]): boolean {
  state.commandCount = (state.commandCount ?? 0) + 1;
  const line = argv.join(' ');
  return state.failAt === state.commandCount || (state.failOn ?? []).some((prefix) => line.startsWith(prefix));
}

/**
 * Whether this invocation is the one a test wants to crash right after: it then stops
 * with its effect in place, until the test kills the process group it started.
 */
export function pausesHere(state: SimState, pausable: boolean): boolean {
  return state.pauseAt !== undefined && state.pauseAt === state.commandCount && pausable;
}

function targetVnet(state: SimState, tool: string, argv: string[], jid: number): string {
  const flag = argv.indexOf('-j');
  if (flag >= 0 && ['ifconfig', 'route', 'netstat'].includes(tool)) {
    const jail = lookupJail(state, argv[flag + 1] ?? '', jid);
    if (jail) return jail.vnetId;
  }
  return contextVnet(state, jid);
}

/** Runs one simulated tool against the state: a FreeBSD tool's own failure is output, not an exception. */
export function toolStep(state: SimState, run: Tool, request: ToolRequest): ToolStep {
  const { tool, argv, jid, stdin } = request;
  reap(state);
  const vnet = targetVnet(state, tool, argv, jid);
  if (injectedFailure(state, [tool, ...argv])) return { output: { stdout: '', stderr: INJECTED_FAILURE, exitCode: 1 }, vnet, pause: false };
  const pause = pausesHere(state, request.pausable);
  try {
    return { output: run({ state, callerJid: jid, stdin }, argv), vnet, pause };
  } catch (error) {
    if (error instanceof ToolError) return { output: { stdout: error.stdout, stderr: error.stderr, exitCode: error.exitCode }, vnet, pause };
    throw error;
  }
}

/** The jail `jexec` runs its command in; a ToolError says why it cannot. */
export function jexecStep(state: SimState, argv: string[], key: string, caller: number): number {
  reap(state);
  if (injectedFailure(state, ['jexec', ...argv])) throw new ToolError(INJECTED_FAILURE, 1);
  return jexecTarget(state, key, caller).jid;
}
