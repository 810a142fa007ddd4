// `jailnet kata-network <sub> <id> [FILE|-]`: the runtime network API with the contract's
// stdout conventions (runtime-network-api.md §1.4), which src/runtime-net/api.ts keeps: the
// answer as one JSON line; on a failure of the call itself `null` (del-iface: its input
// echoed) and the error on stderr, exit 1; an early failure (unreadable input, unknown or
// stopped pod) prints nothing on stdout.
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { KATA_NETWORK_CALLS, kataNetwork, type NetworkCall } from '../runtime-net/api.js';
import { readStdin, type CliContext } from './context.js';

async function readInput(context: CliContext, file: string | undefined): Promise<string> {
  if (file === undefined) throw new Error('give the JSON input as a FILE, or - for stdin');
  return file === '-' ? readStdin(context) : readFile(file, 'utf8');
}

async function run(context: CliContext, call: NetworkCall, id: string, file: string | undefined): Promise<void> {
  const outcome = await kataNetwork(() => context.pods(), call.name, id, () => readInput(context, file));
  if (outcome.error !== undefined) {
    // --json: the error object alone; --dry-run: the plan is the output.
    if (!context.json() && !context.dryRun()) context.io.stdout(outcome.stdout);
    throw outcome.error;
  }
  if (context.printPlanIfDry()) return;
  context.io.stdout(outcome.stdout);
}

export function kataNetworkCommand(context: CliContext): Command {
  const command = new Command('kata-network').description("a running pod's interfaces and routes, with the kata-network JSON contract");
  for (const call of KATA_NETWORK_CALLS) {
    command
      .command(`${call.name} <id>${call.decode ? ' <file>' : ''}`)
      .description(`${call.description}; <id>: a pod name, its container ID or a unique prefix${call.decode ? '; <file>: the JSON, - for stdin' : ''}`)
      // commander passes the options object where a command has no <file>.
      .action((id: string, file: unknown) => run(context, call, id, call.decode ? (file as string) : undefined));
  }
  return command;
}
