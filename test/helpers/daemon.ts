// jailnetd as its own process for tests: `jailnet daemon --socket` in a private
// directory, with the environment the test's plugin calls have.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CONTEXT_VARIABLES } from '../../dist/daemon/protocol.js';
import { socketAnswers } from '../../dist/daemon/socket-probe.js';
import { envAssignments, JAILNET } from './run.js';

export interface DaemonProcess {
  socket: string;
  child: ChildProcess;
  stderr(): string;
  /** SIGKILL: the socket file stays behind, as after a crash. */
  kill(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<number | null>;
}

/** Sends raw bytes and returns everything the daemon answers before it closes. */
export function rawRequest(socket: string, bytes: Buffer | string, options: { halfClose?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = net.connect(socket);
    let answer = '';
    client.on('data', (chunk) => (answer += chunk));
    client.on('error', reject);
    client.on('close', () => resolve(answer));
    client.write(bytes, () => {
      if (options.halfClose) client.end();
    });
  });
}

/** The context variables a request carries, as `NAME=value` lines: those `env` sets. */
export const contextLines = (env: Record<string, string | undefined>): string =>
  CONTEXT_VARIABLES.filter((name) => env[name] !== undefined).map((name) => `${name}=${env[name]}\n`).join('');

export type RuntimeAnswer = { code: number; stdout: string; stderr: string } | { raw: string };

/**
 * A runtime API request (`kata-network SUB ID` or `kata-ipvs ID`) with `env`'s context
 * variables, or `head` in their place; the answer split as protocol.ts frames it (exit code,
 * stdout by its length, stderr), or the raw bytes of a refusal or a fallback.
 */
export async function runtimeRequest(socket: string, call: string, input: string, env: Record<string, string | undefined>, head?: string): Promise<RuntimeAnswer> {
  const context = head ?? contextLines(env);
  const answer = await rawRequest(socket, `jailnetd/1 ${call} ${Buffer.byteLength(input)}\n${context}\n${input}`);
  const match = /^jailnetd\/1 (\d+) (\d+)\n/.exec(answer);
  if (!match) return { raw: answer };
  const body = Buffer.from(answer.slice(match[0].length));
  return { code: Number(match[1]), stdout: body.subarray(0, Number(match[2])).toString(), stderr: body.subarray(Number(match[2])).toString() };
}

export { socketAnswers as answers } from '../../dist/daemon/socket-probe.js';

/** A socket path short enough for sun_path (104 bytes on FreeBSD, 108 on Linux). */
export async function socketDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jnd-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

export async function startDaemonProcess(
  t: { teardown(fn: () => unknown): void },
  env: Record<string, string | undefined>,
  socket: string,
  globalOptions: string[] = [],
  /** A command the daemon runs under (`nsenter --net=… --`). */
  wrapper: string[] = [],
): Promise<DaemonProcess> {
  const assignments = envAssignments(env);
  const child = spawn('/usr/bin/env', ['-i', ...assignments, ...wrapper, process.execPath, JAILNET, ...globalOptions, 'daemon', '--socket', socket], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  // Bounded: 20 s for a Node start on a loaded two-core machine.
  for (let i = 0; i < 200 && !(await socketAnswers(socket)); i++) {
    if (child.exitCode !== null) throw new Error(`jailnet daemon exited ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!(await socketAnswers(socket))) throw new Error(`jailnet daemon did not answer on ${socket}: ${stderr}`);
  return {
    socket,
    child,
    stderr: () => stderr,
    async kill() {
      child.kill('SIGKILL');
      await exited(child);
    },
    async stop() {
      child.kill('SIGTERM');
      return exited(child);
    },
  };
}
