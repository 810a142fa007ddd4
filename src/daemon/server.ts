// jailnetd's socket: root only, every request bounded in size and time, each connection
// on its own so a malformed, hostile or slow one affects nobody else. Calls for
// different containers run concurrently; the plugins' own per-bridge and state locks
// order what must be ordered, as they do between separate plugin processes.
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { log } from '../log.js';
import { DEFAULT_PLUGIN_TIMEOUT_MS, callDeadline } from '../util/deadline.js';
import { allowDeferredCleanups, runPendingCleanups } from '../util/deferred-cleanup.js';
import { Gate } from '../util/gate.js';
import { CniError, ErrorCode } from '../cni/errors.js';
import { encodeJson } from '../cni/json.js';
import { CURRENT_VERSION } from '../cni/versions.js';
import { PLUGIN_NAMES } from '../plugins/registry.js';
import { PROTOCOL, ProtocolError, encodeAnswer, parseRequest, type DaemonCall } from './protocol.js';
import { serveCniCall, type Served } from './cni-service.js';
import { serveRuntimeCall, type KataServed } from './kata-service.js';
import { serveNetavarkCall, type NetavarkServed } from './netavark-service.js';
import { socketAnswers } from './socket-probe.js';

const SERVED_PLUGINS: ReadonlySet<string> = new Set(PLUGIN_NAMES);

/** A client has this long to send its whole request. */
export const REQUEST_READ_MS = 10_000;
/** Connections served at once; more wait in the kernel's listen queue. */
export const MAX_CONNECTIONS = 256;

export class DaemonSetupError extends Error {}

export interface DaemonOptions {
  socket: string;
  /** The daemon's environment, the context calls are compared against. */
  env?: NodeJS.ProcessEnv;
  onError?: (message: string) => void;
  /** Calls take shared turns of it; netmon's passes exclusive ones. */
  gate?: Gate;
  /** With it, `idle` settles once this long has passed without a connection or a call in progress. */
  idleMs?: number;
}

export interface RunningDaemon {
  socket: string;
  /** Stops accepting, waits (bounded) for calls in progress, removes the socket. */
  close(graceMs?: number): Promise<void>;
  /** Settles when the daemon has been idle for `idleMs`; never without it. */
  idle: Promise<void>;
}

/** A timer restarted by every connection and armed only while no call is in progress. */
function idleWatch(idleMs: number | undefined, busy: () => boolean) {
  let settle: () => void = () => undefined;
  const idle = new Promise<void>((resolve) => (settle = resolve));
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    if (idleMs !== undefined && !busy()) timer = setTimeout(settle, idleMs);
  };
  return { idle, arm, stop: () => clearTimeout(timer) };
}

/** The socket's directory must be root's alone: anyone who can write it could replace the socket. */
async function checkSocketDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory()) throw new DaemonSetupError(`${dir} is not a directory`);
  const uid = process.getuid?.() ?? 0;
  if (stat.uid !== uid) throw new DaemonSetupError(`${dir} is owned by uid ${stat.uid}, not ${uid}`);
  if ((stat.mode & 0o077) !== 0) throw new DaemonSetupError(`${dir} is accessible to others (mode ${(stat.mode & 0o777).toString(8)}); it must be 0700`);
}

/** Removes a socket a dead daemon left; refuses when a live one answers or the path is something else. */
async function claimSocketPath(socket: string): Promise<void> {
  const stat = await fs.lstat(socket).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) throw new DaemonSetupError(`${socket} exists and is not a socket`);
  if (await socketAnswers(socket)) throw new DaemonSetupError(`jailnetd is already running on ${socket}`);
  await fs.unlink(socket);
}

async function listen(server: net.Server, socket: string): Promise<void> {
  // Created 0600 from the start: no moment in which another user could connect.
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => (server.off('error', reject), resolve()));
    });
  } finally {
    process.umask(previous);
  }
  await fs.chmod(socket, 0o600);
}

/** A call still running at its deadline: the caller gets "try again later" (the work itself is not cancelled). */
function lateAnswer(call: DaemonCall, deadline: number): Served | KataServed | NetavarkServed {
  if (call.kind === 'netavark') return { code: 1, stdout: `${JSON.stringify({ error: `jailnetd: the call did not finish by ${new Date(deadline).toISOString()}` })}\n` };
  if (call.kind === 'kata-network' || call.kind === 'kata-ipvs') return { code: 1, stdout: '', stderr: `jailnet: jailnetd: the call did not finish by ${new Date(deadline).toISOString()}\n` };
  const error = new CniError(ErrorCode.TryAgainLater, 'jailnetd: the call did not finish in time', `deadline ${new Date(deadline).toISOString()}`);
  return { code: 1, stdout: `${encodeJson(error.toJSON(CURRENT_VERSION))}\n` };
}

/** The call served: a CNI plugin, netavark, or a runtime API command. */
function serve(call: DaemonCall, env: NodeJS.ProcessEnv): Promise<Served | KataServed | NetavarkServed> {
  if (call.kind === 'netavark') return serveNetavarkCall(call, env);
  return call.kind === 'cni' ? serveCniCall(call, env) : serveRuntimeCall(call, env);
}

function describe(call: DaemonCall): Record<string, string | undefined> {
  if (call.kind === 'netavark') return { netavark: call.args.find((a) => ['setup', 'teardown', 'update', 'create'].includes(a)) };
  if (call.kind === 'kata-ipvs') return { api: 'kata-ipvs', id: call.id };
  return call.kind === 'cni' ? { plugin: call.plugin, command: call.env.CNI_COMMAND, container: call.env.CNI_CONTAINERID } : { api: `kata-network ${call.sub}`, id: call.id };
}

async function answerWithin(call: DaemonCall, env: NodeJS.ProcessEnv, gate: Gate): Promise<string> {
  const started = performance.now();
  const deadline = (call.kind === 'cni' ? callDeadline(call.env) : undefined) ?? Date.now() + DEFAULT_PLUGIN_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Served | KataServed | NetavarkServed>((resolve) => (timer = setTimeout(() => resolve(lateAnswer(call, deadline)), Math.max(0, deadline - Date.now()))));
  try {
    const served = await Promise.race([gate.shared(() => serve(call, env)), late]);
    const code = 'sentBack' in served ? 'fallback' : String(served.code);
    const why = 'sentBack' in served ? { sentBack: served.sentBack } : {};
    log().info({ ...describe(call), code, ...why, ms: Math.round(performance.now() - started) }, 'served');
    return encodeAnswer(served);
  } finally {
    clearTimeout(timer);
  }
}

interface Serving {
  env: NodeJS.ProcessEnv;
  gate: Gate;
  track(work: Promise<unknown>): void;
  onError(message: string): void;
}

function serveConnection(connection: net.Socket, { env, gate, track, onError }: Serving): void {
  let received = Buffer.alloc(0);
  const refuse = (reason: string) => {
    connection.end(`${PROTOCOL} refused\n${reason}\n`);
    connection.destroySoon();
  };
  // A client that went away (a liveness probe, a killed shim) is not the daemon's error.
  connection.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') onError(`connection: ${error.message}`);
  });
  connection.setTimeout(REQUEST_READ_MS, () => refuse(`request not complete within ${REQUEST_READ_MS} ms`));
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    let parsed;
    try {
      parsed = parseRequest(received, SERVED_PLUGINS);
    } catch (error) {
      connection.off('data', onData);
      return refuse(error instanceof ProtocolError ? error.message : String(error));
    }
    if (!parsed.complete) return;
    connection.off('data', onData);
    connection.setTimeout(0);
    const work = answerWithin(parsed.call, env, gate).then(
      (answer) => connection.end(answer),
      (error: unknown) => refuse(`internal error: ${(error as Error).message}`),
    );
    track(work);
  };
  connection.on('data', onData);
  connection.on('end', () => {
    // The client stopped sending before its request was whole: nothing runs.
    if (connection.listenerCount('data') > 0) refuse('request truncated');
  });
}

export async function startDaemon(options: DaemonOptions): Promise<RunningDaemon> {
  const socket = path.resolve(options.socket);
  const env = { ...(options.env ?? process.env), JAILNET_SOCKET: socket };
  const onError = options.onError ?? (() => undefined);
  await checkSocketDir(path.dirname(socket));
  await claimSocketPath(socket);
  const inFlight = new Set<Promise<unknown>>();
  const watch = idleWatch(options.idleMs, () => inFlight.size > 0);
  const track = (work: Promise<unknown>) => {
    inFlight.add(work);
    watch.arm();
    void work.finally(() => (inFlight.delete(work), watch.arm()));
  };
  // What a call empties may be cleaned up a little later (util/deferred-cleanup.ts).
  allowDeferredCleanups();
  const serving: Serving = { env, gate: options.gate ?? new Gate(), track, onError };
  const server = net.createServer({ allowHalfOpen: true }, (connection) => (watch.arm(), serveConnection(connection, serving)));
  server.maxConnections = MAX_CONNECTIONS;
  server.on('error', (error) => onError(`server: ${error.message}`));
  await listen(server, socket);
  // Its own socket only: another daemon may have taken the path since (autostart.ts).
  const own = (await fs.stat(socket)).ino;
  watch.arm();
  return {
    socket,
    idle: watch.idle,
    async close(graceMs = 30_000) {
      watch.stop();
      // No new connections; the ones in progress finish (bounded by the grace) and close.
      server.close();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.allSettled([...inFlight]), grace]);
      clearTimeout(timer);
      // Nothing put off is left behind by a daemon that stops.
      for (const failure of await runPendingCleanups()) onError(`cleanup: ${failure}`);
      if ((await fs.stat(socket).catch(() => undefined))?.ino === own) await fs.rm(socket, { force: true });
    },
  };
}
