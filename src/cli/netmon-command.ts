// `jailnet netmon`: the reconcile loop (repair/netmon.ts) in the foreground, for hosts
// that run it outside jailnetd (rc.d/jailnet's jailnet_netmon); `jailnet daemon` runs
// the same loop inside jailnetd when [netmon] enable_netmon is set. Where [netmon] path
// names another program, this command hands over to it: that program is the netmon.
import { realpathSync } from 'node:fs';
import path from 'node:path';
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

const resolved = (file: string): string => {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
};

/** [netmon] path, when it names a program other than this one. */
function otherProgram(configured: string | undefined): string | undefined {
  const own = process.argv[1];
  return configured !== undefined && (own === undefined || resolved(configured) !== resolved(own)) ? configured : undefined;
}

/** Runs [netmon] path in the foreground (JAILNET_CONFIG tells it which config), passing the stop on. */
async function handOver(context: CliContext, program: string): Promise<number> {
  const running = (await context.door()).runInForeground(program, [], context.pluginEnv());
  void stopSignal().then(() => running.stop());
  const code = await running.exited;
  if (code === -1) context.io.stderr(`jailnet netmon: ${program} could not be started\n`);
  return code === null || code < 0 ? 1 : code;
}

export function netmonCommand(context: CliContext): Command {
  return new Command('netmon')
    .description("watch pods' networks and repair drift from jailnet's records until SIGTERM (jailnetd runs this itself with enable_netmon)")
    .action(async () => {
      const other = otherProgram((await context.config()).netmon.path);
      if (other !== undefined) {
        context.exitCode = await handOver(context, other);
        return;
      }
      const stopped = stopSignal();
      const netmon = await startNetmon(context);
      context.io.stderr('jailnet netmon: watching\n');
      const signal = await stopped;
      context.io.stderr(`jailnet netmon: ${signal}, stopping\n`);
      await netmon.stop();
    });
}
