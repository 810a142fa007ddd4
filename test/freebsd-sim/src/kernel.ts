// The resident simulated kernel: one process holds the simulator's state in memory and
// runs each tool invocation sent over its unix socket (kernelSocket), one at a time, with the same
// steps as the file store (steps.ts). With the file store every command parses and
// writes the whole state, a cost that grows with it (~30 ms a command at 1,000 pods,
// where a real FreeBSD tool's does not): a benchmark of how jailnet scales runs the
// simulator this way so that it measures jailnet (bench/scale.mjs). The state file is
// written once the kernel has been idle a moment, on `flush`, and when it stops (SIGTERM).
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ToolError } from './model.js';
import { readState, writeState } from './state.js';
import { TOOLS, jexecStep, toolStep, type Tool, type ToolRequest, type ToolStep } from './steps.js';

/**
 * The kernel's socket, found from the state directory by every tool. Not inside it: a
 * unix socket's path is limited to 108 bytes, and tests' directories are longer.
 */
export function kernelSocket(dir: string): string {
  const id = createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 16);
  return path.join(tmpdir(), `jailnet-sim-kernel-${id}.sock`);
}

export type KernelMessage =
  | { op: 'tool'; request: ToolRequest }
  | { op: 'jexec'; argv: string[]; key: string; caller: number }
  | { op: 'flush' };

/** What the kernel answers: one of these fields. */
export interface KernelReply {
  step?: ToolStep;
  jid?: number;
  toolError?: { stderr: string; exitCode: number; stdout: string };
  flushed?: true;
  error?: string;
}

/** The longest request a kernel reads: a pf ruleset on stdin is the largest thing sent. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
const IDLE_WRITE_MS = 100;

type Answer = (message: KernelMessage) => KernelReply | Promise<KernelReply>;

/** The state in memory and what answers each message; `persist` writes it (writes queued, never overlapping). */
async function residentState(dir: string): Promise<{ answer: Answer; persist: () => Promise<void>; idle: () => void }> {
  const state = readState(dir);
  const tools = new Map<string, Tool>();
  for (const [name, load] of Object.entries(TOOLS)) tools.set(name, await load());
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const persist = (): Promise<void> => (writing = writing.then(() => writeState(dir, state)));
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void persist(), IDLE_WRITE_MS);
  };
  // Synchronous from start to end: requests are served strictly one after another.
  const answer: Answer = (message) => {
    if (message.op === 'flush') return persist().then(() => ({ flushed: true as const }));
    schedule();
    if (message.op === 'jexec') {
      const counted = state.commandCount;
      try {
        return { jid: jexecStep(state, message.argv, message.key, message.caller) };
      } catch (error) {
        if (!(error instanceof ToolError)) throw error;
        // As with the file store, which does not write the state when the step throws.
        state.commandCount = counted;
        return { toolError: { stderr: error.stderr, exitCode: error.exitCode, stdout: error.stdout } };
      }
    }
    const run = tools.get(message.request.tool);
    if (!run) return { error: `no simulated tool named ${message.request.tool}` };
    return { step: toolStep(state, run, message.request) };
  };
  return { answer, persist, idle: () => clearTimeout(timer) };
}

const failure = (error: unknown): KernelReply => ({ error: error instanceof Error ? error.message : String(error) });

/** One connection: one newline-terminated message in, one reply out. */
function serveConnection(socket: net.Socket, answer: Answer): void {
  let buffer = '';
  let answered = false;
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: string) => {
    if (answered) return;
    buffer += chunk;
    if (buffer.length > MAX_REQUEST_BYTES) return void socket.end(`${JSON.stringify({ error: 'request too large' })}\n`);
    const end = buffer.indexOf('\n');
    if (end < 0) return;
    answered = true;
    let reply: KernelReply | Promise<KernelReply>;
    try {
      reply = answer(JSON.parse(buffer.slice(0, end)) as KernelMessage);
    } catch (error) {
      reply = failure(error);
    }
    void Promise.resolve(reply)
      .catch(failure)
      .then((r) => socket.end(`${JSON.stringify(r)}\n`));
  });
}

/** Serves `dir`'s state until SIGTERM or SIGINT; resolves once it is written and the socket is gone. */
export async function serveKernel(dir: string): Promise<void> {
  const { answer, persist, idle } = await residentState(dir);
  const server = net.createServer((socket) => serveConnection(socket, answer));
  const socketPath = kernelSocket(dir);
  if (existsSync(socketPath)) rmSync(socketPath);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  idle();
  server.close();
  rmSync(socketPath, { force: true });
  await persist();
}

/** Sends one message to the kernel serving `dir` and returns its reply. */
export function callKernel(dir: string, message: KernelMessage, timeoutMs: number): Promise<KernelReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(kernelSocket(dir));
    let data = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`the resident kernel did not answer within ${timeoutMs} ms`)));
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', (error) => reject(new Error(`the resident kernel of ${dir} is not answering (${error.message})`)));
    socket.on('end', () => {
      try {
        resolve(JSON.parse(data) as KernelReply);
      } catch {
        reject(new Error(`the resident kernel of ${dir} answered something unreadable`));
      }
    });
    socket.write(`${JSON.stringify(message)}\n`);
  });
}
