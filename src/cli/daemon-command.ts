// `jailnet daemon`: jailnetd in the foreground, serving the plugin shims (and with
// [netmon] enable_netmon, running netmon) until SIGTERM or SIGINT. rc.d/jailnetd runs it under daemon(8) (pidfile, restart); a systemd unit runs it
// directly.
import { Command } from 'commander';
import { log } from '../log.js';
import { DAEMON_SOCKET } from '../persistent-names.js';
import { startDaemon } from '../daemon/server.js';
import { Gate } from '../util/gate.js';
import { stopSignal } from '../util/stop-signal.js';
import type { CliContext } from './context.js';
import { startNetmon } from './netmon-command.js';

export function daemonCommand(context: CliContext): Command {
  return new Command('daemon')
    .description('run jailnetd in the foreground: serve the CNI plugin shims on a root-only unix socket')
    .option('--socket <path>', 'unix socket to listen on ($JAILNET_SOCKET, else the default)')
    .action(async (options: { socket?: string }) => {
      const socket = options.socket ?? process.env.JAILNET_SOCKET ?? DAEMON_SOCKET;
      const stopped = stopSignal();
      const gate = new Gate();
      const daemon = await startDaemon({ socket, env: context.pluginEnv(), gate, onError: (message) => log().warn(message) });
      context.io.stderr(`jailnetd: serving on ${daemon.socket}\n`);
      // netmon's passes take the gate's exclusive turn: never in the middle of a plugin call.
      const netmon = (await context.config()).netmon.enabled ? await startNetmon(context, (work) => gate.exclusive(work)) : undefined;
      if (netmon) context.io.stderr('jailnetd: netmon on\n');
      const signal = await stopped;
      context.io.stderr(`jailnetd: ${signal}, stopping\n`);
      await netmon?.stop();
      await daemon.close();
    });
}
