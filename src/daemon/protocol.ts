// The wire format between the plugin shims (libexec/cni/*, /bin/sh and nc) and jailnetd.
// It is plain text a shell can write and read without a JSON parser:
//
//   request:  "jailnetd/1 cni <plugin> <stdin bytes>\n" ("NAME=value\n")* "\n" <stdin>
//             "jailnetd/1 kata-network <sub> <id> <stdin bytes>\n" ("NAME=value\n")* "\n" <JSON input>
//             "jailnetd/1 kata-ipvs <id> <stdin bytes>\n" ("NAME=value\n")* "\n" <request string>
//             "jailnetd/1 netavark <stdin bytes>\n" ("ARG=value\n" | "NAME=value\n")* "\n" <stdin>
//                        (ARG lines are netavark's arguments, in order)
//   answer:   "jailnetd/1 <exit code>\n" <the plugin's stdout>
//             "jailnetd/1 <exit code> <stdout bytes>\n" <stdout> <stderr>   (kata-network, kata-ipvs)
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
const CONTEXT_ONLY = new Set<string>(CONTEXT_VARIABLES);

export interface CniCall {
  kind: 'cni';
  plugin: string;
  env: Record<string, string>;
  stdin: Buffer;
}

/** A runtime API call (`jailnet kata-network <sub> <id>`), its input as stdin; only context variables travel with it. */
export interface KataCall {
  kind: 'kata-network';
  sub: string;
  id: string;
  env: Record<string, string>;
  stdin: Buffer;
}

/**
 * A load balancer call (`jailnet kata-ipvs … <id>`): its stdin is the one request string
 * kata's CLI sends its agent (`ipvsadm ARGS`, `conntrack -D ARGS`, `restore|COUNT|RULES`).
 */
export interface IpvsCall {
  kind: 'kata-ipvs';
  id: string;
  env: Record<string, string>;
  stdin: Buffer;
}

/** netavark's contract (libexec/podman/netavark): its arguments, the context and netavark's own variables, stdin. */
export interface NetavarkCall {
  kind: 'netavark';
  args: string[];
  env: Record<string, string>;
  stdin: Buffer;
}

export type DaemonCall = CniCall | KataCall | IpvsCall | NetavarkCall;

/** What a netavark call carries beside its arguments: the context, netavark's variables, and the caller's network namespace. */
export const NETAVARK_VARIABLES = [...CONTEXT_VARIABLES, 'NETAVARK_FW', 'NETAVARK_DNS_PORT', 'JAILNET_NETNS'] as const;
const NETAVARK_ALLOWED = new Set<string>(NETAVARK_VARIABLES);
/** netavark's arguments are few (options, a subcommand, a namespace): more is not podman. */
const MAX_NETAVARK_ARGS = 64;

export const KATA_SUBCOMMANDS: ReadonlySet<string> = new Set([
  'add-iface', 'del-iface', 'update-iface', 'list-ifaces', 'add-route', 'del-route', 'update-routes', 'list-routes',
]);

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

export type Parsed = { complete: false } | { complete: true; call: DaemonCall };

type RequestLine =
  | { kind: 'cni'; plugin: string; length: number }
  | { kind: 'kata-network'; sub: string; id: string; length: number }
  | { kind: 'kata-ipvs'; id: string; length: number }
  | { kind: 'netavark'; length: number };

/** An ID is a pod name, a container ID or a prefix: no whitespace, no path, bounded. */
const ID = '([A-Za-z0-9][A-Za-z0-9_.-]{0,127})';
const LENGTH = '(0|[1-9][0-9]{0,7})';
/** `jailnetd/1 KIND PARTS… LENGTH`, the whole line. */
const requestLine = (...parts: string[]): RegExp => new RegExp(['^jailnetd/1', ...parts, LENGTH].join(' ') + '$');

function parseRequestLine(line: string, plugins: ReadonlySet<string>): RequestLine {
  const cni = requestLine('cni', '([a-z0-9-]{1,32})').exec(line);
  const kata = requestLine('kata-network', '([a-z-]{1,16})', ID).exec(line);
  const ipvs = requestLine('kata-ipvs', ID).exec(line);
  const netavark = requestLine('netavark').exec(line);
  const length = Number((cni ?? kata ?? ipvs ?? netavark)?.at(-1));
  if (length > MAX_STDIN_BYTES) throw new ProtocolError(`stdin of ${length} bytes exceeds ${MAX_STDIN_BYTES}`);
  if (cni) {
    const plugin = cni[1] as string;
    if (!plugins.has(plugin)) throw new ProtocolError(`no CNI plugin named ${JSON.stringify(plugin)}`);
    return { kind: 'cni', plugin, length };
  }
  if (kata) {
    if (!KATA_SUBCOMMANDS.has(kata[1] as string)) throw new ProtocolError(`no kata-network subcommand named ${JSON.stringify(kata[1])}`);
    return { kind: 'kata-network', sub: kata[1] as string, id: kata[2] as string, length };
  }
  if (ipvs) return { kind: 'kata-ipvs', id: ipvs[1] as string, length };
  if (netavark) return { kind: 'netavark', length };
  throw new ProtocolError(`not a ${PROTOCOL} request line: ${JSON.stringify(line.slice(0, 80))}`);
}

function parseEnvironment(lines: string[], allowed: ReadonlySet<string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of lines) {
    const equals = line.indexOf('=');
    const name = equals > 0 ? line.slice(0, equals) : '';
    if (!allowed.has(name)) throw new ProtocolError(`unexpected environment line ${JSON.stringify(line.slice(0, 80))}`);
    if (name in env) throw new ProtocolError(`${name} given twice`);
    if (/[\0-\x1f\x7f]/.test(line)) throw new ProtocolError(`control character in ${name}`);
    env[name] = line.slice(equals + 1);
  }
  return env;
}

/** The ARG lines, in order: each one argument, no control character in it. */
function netavarkArgs(lines: string[]): string[] {
  const args = lines.filter((l) => l.startsWith('ARG=')).map((l) => l.slice(4));
  if (args.length > MAX_NETAVARK_ARGS) throw new ProtocolError(`more than ${MAX_NETAVARK_ARGS} arguments`);
  if (args.some((a) => /[\0-\x1f\x7f]/.test(a))) throw new ProtocolError('control character in an argument');
  return args;
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
  const head = parseRequestLine(first, plugins);
  const args = head.kind === 'netavark' ? netavarkArgs(rest) : [];
  const lines = head.kind === 'netavark' ? rest.filter((l) => !l.startsWith('ARG=')) : rest;
  const env = parseEnvironment(lines, head.kind === 'cni' ? FORWARDED : head.kind === 'netavark' ? NETAVARK_ALLOWED : CONTEXT_ONLY);
  const stdin = buffer.subarray(headEnd + 2);
  if (stdin.length > head.length) throw new ProtocolError(`more than the announced ${head.length} bytes of stdin`);
  if (stdin.length < head.length) return { complete: false };
  if (head.kind === 'netavark') return { complete: true, call: { kind: 'netavark', args, env, stdin } };
  const { length: _length, ...what } = head;
  return { complete: true, call: { ...what, env, stdin } };
}

/** The answer's bytes: the exit code and stdout, or "fallback" and why (the shim runs the plugin itself). */
export function encodeAnswer(served: { code: number; stdout: string; stderr?: string } | { sentBack: string }): string {
  if ('sentBack' in served) return `${PROTOCOL} fallback\n${served.sentBack}\n`;
  // Runtime API answers carry stderr too (its error text): the stdout length says where it starts.
  if (served.stderr !== undefined) return `${PROTOCOL} ${served.code} ${Buffer.byteLength(served.stdout)}\n${served.stdout}${served.stderr}`;
  return `${PROTOCOL} ${served.code}\n${served.stdout}`;
}
