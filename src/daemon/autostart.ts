// [daemon] autostart: a plugin or netavark call that ran in a Node process of its own,
// because no jailnetd answered, starts one for the calls after it. Once, under the pidfile
// as a lock; as root only (the socket is root's); in the caller's environment and network
// namespace, so that the daemon serves the next such calls instead of sending them back;
// detached, with its output in a log beside the socket; and it stops by itself after
// [daemon] idle_exit seconds without a call. The call that starts it does not wait for it.
import { existsSync, promises as fs } from 'node:fs';
import { createExecDoor } from '../hosts/exec.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/jailnet-conf.js';
import { LOG_LEVELS } from '../log.js';
import { defaultConfigFile } from '../platform.js';
import { DAEMON_SOCKET, daemonLogFile, daemonPidFile } from '../persistent-names.js';
import { claimPidFile, livePid, writePidFile } from './pidfile.js';
import { socketAnswers } from './socket-probe.js';

export type AutostartOutcome = 'off' | 'not-root' | 'no-nc' | 'running' | 'starting' | 'started';

export interface AutostartSite {
  socket: string;
  idleExitMs: number;
  /** The caller's environment, which the daemon compares calls against. */
  env: NodeJS.ProcessEnv;
}

/** jailnetd's heap bounds, as rc.d/jailnetd and systemd/jailnetd.service give them (test/cli-admin.ts compares). */
export const DAEMON_HEAP_OPTIONS = ['--max-semi-space-size=1', '--max-old-space-size=96'];

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'jailnet.js');

/** The shims reach jailnetd with nc(1): without it a daemon would serve nobody. */
const onPath = (program: string, pathVar = '') => pathVar.split(':').some((dir) => dir !== '' && existsSync(path.join(dir, program)));

/** The caller's environment without one call's own variables (CNI_COMMAND, NETAVARK_FW, ...). */
const daemonEnv = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(env).filter(([name]) => !/^(CNI_|NETAVARK_)/.test(name) && name !== 'JAILNET_SOCKET'));

/** A pidfile created a moment ago and not yet written (claimPidFile creates, then writes). */
async function beingWritten(file: string): Promise<boolean> {
  const stat = await fs.stat(file).catch(() => undefined);
  return stat !== undefined && stat.size === 0 && Date.now() - stat.mtimeMs < 5_000;
}

/** Starts jailnetd when none answers on the socket and no other call is starting one. */
export async function autostartDaemon(site: AutostartSite): Promise<AutostartOutcome> {
  if ((process.getuid?.() ?? 0) !== 0) return 'not-root';
  if (!onPath('nc', site.env.PATH)) return 'no-nc';
  if (await socketAnswers(site.socket)) return 'running';
  const pidFile = daemonPidFile(site.socket);
  await fs.mkdir(path.dirname(site.socket), { recursive: true, mode: 0o700 });
  // The lock names this process until the daemon's pid replaces it: a file naming a dead
  // process (a starter or a daemon that died) is stale and taken over, once.
  // (Two callers taking over one stale file at once may both start a daemon: the second
  // finds the first on the socket and exits, and a daemon removes only its own socket.)
  for (let attempt = 0; attempt < 2; attempt++) {
    if (await claimPidFile(pidFile, process.pid)) return spawnDaemon(site, pidFile);
    if ((await livePid(pidFile)) !== undefined || (await beingWritten(pidFile))) return 'starting';
    await fs.rm(pidFile, { force: true });
  }
  return 'starting';
}

async function spawnDaemon(site: AutostartSite, pidFile: string): Promise<AutostartOutcome> {
  const log = await fs.open(daemonLogFile(site.socket), 'a', 0o600);
  try {
    // The caller's JAILNET_LOG_LEVEL, which the CLI's own --log-level default would override.
    const level = LOG_LEVELS.find((l) => l === site.env.JAILNET_LOG_LEVEL);
    const args = [CLI, ...(level ? ['--log-level', level] : []), 'daemon', '--socket', site.socket, '--pidfile', pidFile, '--idle-exit', String(site.idleExitMs / 1000)];
    const pid = await createExecDoor({ env: site.env }).startProgram(process.execPath, [...DAEMON_HEAP_OPTIONS, ...args], { env: daemonEnv(site.env), outputFd: log.fd });
    if (pid === undefined) {
      await fs.rm(pidFile, { force: true });
      return 'off';
    }
    await writePidFile(pidFile, pid);
    return 'started';
  } finally {
    await log.close();
  }
}

/**
 * After a call served in its own process: jailnet.conf (JAILNET_CONFIG or the default) says
 * whether to start jailnetd. Never fails the call: a config that cannot be read starts nothing.
 */
export async function autostartAfterCall(env: NodeJS.ProcessEnv): Promise<AutostartOutcome> {
  try {
    const config = await loadConfig(env.JAILNET_CONFIG, defaultConfigFile());
    if (!config.daemon.autostart) return 'off';
    return await autostartDaemon({ socket: env.JAILNET_SOCKET ?? DAEMON_SOCKET, idleExitMs: config.daemon.idleExitMs, env });
  } catch {
    return 'off';
  }
}
