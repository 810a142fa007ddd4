// `jailnet daemon`: jailnetd in the foreground, serving the plugin shims until SIGTERM or
// SIGINT. rc.d/jailnetd runs it under daemon(8) (pidfile, restart); a systemd unit runs it
// directly.
import { Command } from 'commander';
import { log } from '../log.js';
import { DAEMON_SOCKET } from '../persistent-names.js';
import { startDaemon } from '../daemon/server.js';
import type { CliContext } from './context.js';

function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

export function daemonCommand(context: CliContext): Command {
  return new Command('daemon')
    .description('run jailnetd in the foreground: serve the CNI plugin shims on a root-only unix socket')
    .option('--socket <path>', 'unix socket to listen on ($JAILNET_SOCKET, else the default)')
    .action(async (options: { socket?: string }) => {
      const socket = options.socket ?? process.env.JAILNET_SOCKET ?? DAEMON_SOCKET;
      const stopped = stopSignal();
      const daemon = await startDaemon({ socket, env: context.pluginEnv(), onError: (message) => log().warn(message) });
      context.io.stderr(`jailnetd: serving on ${daemon.socket}\n`);
      const signal = await stopped;
      context.io.stderr(`jailnetd: ${signal}, stopping\n`);
      await daemon.close();
    });
}
