// `jailnet netmon`: the reconcile loop (repair/netmon.ts) in the foreground, for hosts
// that run it outside jailnetd ([netmon] path names this program); `jailnet daemon`
// runs the same loop inside jailnetd when [netmon] enable_netmon is set.
import { Command } from 'commander';
import { log } from '../log.js';
import { Netmon } from '../repair/netmon.js';
import { stopSignal } from '../util/stop-signal.js';
import type { CliContext } from './context.js';
import { repairScope } from './repair-command.js';

/** netmon over this context's host and records; `exclusive` is jailnetd's gate. */
export async function startNetmon(context: CliContext, exclusive?: <T>(work: () => Promise<T>) => Promise<T>): Promise<Netmon> {
  if (context.dryRun()) throw new Error('netmon repairs as it finds: it does not run with --dry-run');
  const netmon = new Netmon({ scope: await repairScope(context), ...(exclusive ? { exclusive } : {}), log: (level, message) => log()[level](message) });
  netmon.start();
  return netmon;
}

export function netmonCommand(context: CliContext): Command {
  return new Command('netmon')
    .description("watch pods' networks and repair drift from jailnet's records until SIGTERM (jailnetd runs this itself with enable_netmon)")
    .action(async () => {
      const stopped = stopSignal();
      const netmon = await startNetmon(context);
      context.io.stderr('jailnet netmon: watching\n');
      const signal = await stopped;
      context.io.stderr(`jailnet netmon: ${signal}, stopping\n`);
      await netmon.stop();
    });
}
