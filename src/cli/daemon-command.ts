// `jailnet daemon`: jailnetd in the foreground, serving the plugin shims (and with
// [netmon] enable_netmon, running netmon) until SIGTERM or SIGINT, or, with --idle-exit
// (what [daemon] autostart starts, src/daemon/autostart.ts), until it has been idle that long. rc.d/jailnetd runs it under daemon(8) (pidfile, restart); a systemd unit runs it
// directly.
import { Command, InvalidArgumentError } from 'commander';
import { log } from '../log.js';
import { DAEMON_SOCKET } from '../persistent-names.js';
import { removeOwnPidFile, writePidFile } from '../daemon/pidfile.js';
import { startDaemon } from '../daemon/server.js';
import { Gate } from '../util/gate.js';
import { stopSignal } from '../util/stop-signal.js';
import type { CliContext } from './context.js';
import { startNetmon } from './netmon-command.js';

export function daemonCommand(context: CliContext): Command {
  return new Command('daemon')
    .description('run jailnetd in the foreground: serve the CNI plugin shims on a root-only unix socket')
    .option('--socket <path>', 'unix socket to listen on ($JAILNET_SOCKET, else the default)')
    .option('--pidfile <path>', 'write the pid here once serving; removed when it stops')
    .option('--idle-exit <seconds>', 'stop after this long without a call (netmon then stays off)', seconds)
    .action(async (options: DaemonCommandOptions) => {
      const socket = options.socket ?? process.env.JAILNET_SOCKET ?? DAEMON_SOCKET;
      const stopped = stopSignal();
      const gate = new Gate();
      const idleMs = options.idleExit === undefined ? undefined : options.idleExit * 1000;
      const daemon = await startDaemon({ socket, env: context.pluginEnv(), gate, idleMs, onError: (message) => log().warn(message) }).catch(async (error: unknown) => {
        if (options.pidfile) await removeOwnPidFile(options.pidfile);
        throw error;
      });
      if (options.pidfile) await writePidFile(options.pidfile);
      context.io.stderr(`jailnetd: serving on ${daemon.socket}\n`);
      // netmon's passes take the gate's exclusive turn: never in the middle of a plugin call.
      // A daemon that stops when idle is not one to watch the pods.
      const netmon = idleMs === undefined && (await context.config()).netmon.enabled ? await startNetmon(context, (work) => gate.exclusive(work)) : undefined;
      if (netmon) context.io.stderr('jailnetd: netmon on\n');
      const reason = await Promise.race([stopped, daemon.idle.then(() => `idle for ${options.idleExit} s`)]);
      context.io.stderr(`jailnetd: ${reason}, stopping\n`);
      await netmon?.stop();
      await daemon.close();
      if (options.pidfile) await removeOwnPidFile(options.pidfile);
    });
}

interface DaemonCommandOptions {
  socket?: string;
  pidfile?: string;
  idleExit?: number;
}

function seconds(text: string): number {
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(value > 0)) throw new InvalidArgumentError('must be a positive number of seconds');
  return value;
}
