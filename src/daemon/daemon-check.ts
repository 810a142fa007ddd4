// `jailnet status`'s line on jailnetd: serving (and whether a call started it), or not
// running, which is worth knowing (each call then starts Node) but is not a failure.
import type { JailnetConfig } from '../config/jailnet-conf.js';
import type { Host, ReadinessCheck } from '../hosts/host.js';
import { DAEMON_SOCKET, daemonPidFile } from '../persistent-names.js';
import { livePid } from './pidfile.js';
import { socketAnswers } from './socket-probe.js';

const ENABLE: Record<Host['kind'], string> = {
  freebsd: 'sysrc jailnetd_enable=YES && service jailnetd start',
  linux: 'systemctl enable --now jailnetd',
};

export async function daemonCheck(kind: Host['kind'], config: JailnetConfig, env: NodeJS.ProcessEnv): Promise<ReadinessCheck> {
  const socket = env.JAILNET_SOCKET ?? DAEMON_SOCKET;
  if (await socketAnswers(socket)) {
    const started = await livePid(daemonPidFile(socket));
    const how = started === undefined ? '' : ` (pid ${started}, started by a call: it stops after ${config.daemon.idleExitMs / 1000} s without one)`;
    return { name: `jailnetd serves on ${socket}${how}`, ok: true };
  }
  if (config.daemon.autostart) return { name: `jailnetd is not running on ${socket}: the next plugin or netavark call starts it ([daemon] autostart)`, ok: true, note: true };
  return {
    name: `jailnetd is not running on ${socket}: each plugin and netavark call starts a Node process`,
    ok: true,
    note: true,
    fix: `${ENABLE[kind]}, or [daemon] autostart = yes in jailnet.conf`,
  };
}
