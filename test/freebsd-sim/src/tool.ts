// What a simulated tool gets and gives: the state, the jail it runs in, and its output.
import type { SimState } from './state.js';

export interface ToolContext {
  state: SimState;
  /** The jail the command runs in (jexec sets it), 0 for the host. */
  callerJid: number;
  stdin: string;
}

export interface ToolOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export function ok(stdout = '', stderr = ''): ToolOutput {
  return { stdout, stderr, exitCode: 0 };
}

/** -j exists in ifconfig and route from 13.3 and 14.0 on. */
export function releaseHasJailFlag(release: string): boolean {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return true;
  const major = Number(match[1]);
  const minor = Number(match[2]);
  return major > 13 || (major === 13 && minor >= 3);
}
