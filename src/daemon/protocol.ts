// The wire format between the plugin shims (libexec/cni/*, /bin/sh and nc) and jailnetd.
// It is plain text a shell can write and read without a JSON parser:
//
//   request:  "jailnetd/1 cni <plugin> <stdin bytes>\n" ("NAME=value\n")* "\n" <stdin>
//   answer:   "jailnetd/1 <exit code>\n" <the plugin's stdout>
//             "jailnetd/1 fallback\n" <why>   (the shim runs the plugin itself)
//
// Every size is bounded before anything is buffered, and a request is complete only
// when exactly the announced stdin has arrived: a truncated one never runs.
import { MAX_STDIN_BYTES } from '../cni/skel.js';

export const PROTOCOL = 'jailnetd/1';
/** The request line and the environment lines together. */
export const MAX_HEAD_BYTES = 64 * 1024;

/**
 * The variables a shim forwards: the call's own (CNI_*, its deadline, a delegating
 * plugin's mark) and the ones that choose what the daemon works on, which must match the
 * daemon's own or the call is sent back to run in the shim's process.
 */
export const CALL_VARIABLES = ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_ARGS', 'CNI_PATH', 'JAILNET_DEADLINE', 'JAILNET_DELEGATED_BY'] as const;
export const CONTEXT_VARIABLES = ['JAILNET_CONFIG', 'JAILNET_HOST', 'JAILNET_TOOL_PATH', 'JAILNET_RUN_DIR'] as const;
const FORWARDED = new Set<string>([...CALL_VARIABLES, ...CONTEXT_VARIABLES]);

export interface CniCall {
  plugin: string;
  env: Record<string, string>;
  stdin: Buffer;
}

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export type Parsed = { complete: false } | { complete: true; call: CniCall };

function parseRequestLine(line: string, plugins: ReadonlySet<string>): { plugin: string; length: number } {
  const match = /^jailnetd\/1 cni ([a-z0-9-]{1,32}) (0|[1-9][0-9]{0,7})$/.exec(line);
  if (!match) throw new ProtocolError(`not a ${PROTOCOL} request line: ${JSON.stringify(line.slice(0, 80))}`);
  const plugin = match[1] as string;
  const length = Number(match[2]);
  if (!plugins.has(plugin)) throw new ProtocolError(`no CNI plugin named ${JSON.stringify(plugin)}`);
  if (length > MAX_STDIN_BYTES) throw new ProtocolError(`stdin of ${length} bytes exceeds ${MAX_STDIN_BYTES}`);
  return { plugin, length };
}

function parseEnvironment(lines: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines) {
    const equals = line.indexOf('=');
    const name = equals > 0 ? line.slice(0, equals) : '';
    if (!FORWARDED.has(name)) throw new ProtocolError(`unexpected environment line ${JSON.stringify(line.slice(0, 80))}`);
    if (name in env) throw new ProtocolError(`${name} given twice`);
    if (/[\0-\x1f\x7f]/.test(line)) throw new ProtocolError(`control character in ${name}`);
    env[name] = line.slice(equals + 1);
  }
  return env;
}

/** Parses what has arrived so far; throws as soon as the bytes cannot become a valid request. */
export function parseRequest(buffer: Buffer, plugins: ReadonlySet<string>): Parsed {
  const headEnd = buffer.indexOf('\n\n');
  if (headEnd < 0) {
    if (buffer.length > MAX_HEAD_BYTES) throw new ProtocolError(`request head exceeds ${MAX_HEAD_BYTES} bytes`);
    const firstLine = buffer.indexOf('\n');
    // A wrong request line is refused at once, not after the head limit.
    if (firstLine >= 0) parseRequestLine(buffer.subarray(0, firstLine).toString('latin1'), plugins);
    return { complete: false };
  }
  if (headEnd > MAX_HEAD_BYTES) throw new ProtocolError(`request head exceeds ${MAX_HEAD_BYTES} bytes`);
  const [first = '', ...rest] = buffer.subarray(0, headEnd).toString('utf8').split('\n');
  const { plugin, length } = parseRequestLine(first, plugins);
  const env = parseEnvironment(rest);
  const stdin = buffer.subarray(headEnd + 2);
  if (stdin.length > length) throw new ProtocolError(`more than the announced ${length} bytes of stdin`);
  if (stdin.length < length) return { complete: false };
  return { complete: true, call: { plugin, env, stdin } };
}

/** The answer's bytes: the exit code and stdout, or "fallback" and why (the shim runs the plugin itself). */
export function encodeAnswer(served: { code: number; stdout: string } | { sentBack: string }): string {
  return 'sentBack' in served ? `${PROTOCOL} fallback\n${served.sentBack}\n` : `${PROTOCOL} ${served.code}\n${served.stdout}`;
}
