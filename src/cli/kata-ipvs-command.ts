// `jailnet kata-ipvs ipvsadm --parameters "…" <id>`, `… --restore - <id>` and
// `jailnet kata-ipvs cleanup --parameters "…" <id>`: a running pod's load balancer with the
// contract's command set (runtime-network-api.md §1.7). What ipvsadm or conntrack would
// print goes to stdout as it is, nothing when it is empty; errors are one line on stderr.
import { Command } from 'commander';
import { BalancerError } from '../balancer/rules.js';
import { kataIpvs, type IpvsRequest } from '../runtime-net/api.js';
import { readStdin, type CliContext } from './context.js';

interface IpvsadmOptions {
  parameters?: string;
  restore?: string;
  replace?: boolean;
}

/** The options as the request the runtime API takes (the daemon's socket gets the same one). */
async function requestOf(context: CliContext, options: IpvsadmOptions): Promise<IpvsRequest> {
  if ((options.parameters === undefined) === (options.restore === undefined)) throw new BalancerError('give --parameters "IPVSADM ARGS" or --restore -');
  if (options.replace && options.restore === undefined) throw new BalancerError('--replace goes with --restore -');
  if (options.parameters !== undefined) return { kind: 'ipvsadm', parameters: options.parameters };
  if (options.restore !== '-') throw new BalancerError('please use --restore - for stdin');
  return { kind: 'restore', rules: await readStdin(context), replace: options.replace === true };
}

/** What ipvsadm or conntrack would print, nothing when it is empty; with --dry-run, the plan instead. */
async function run(context: CliContext, id: string, request: IpvsRequest): Promise<void> {
  const output = await kataIpvs(await context.pods(), id, request);
  if (context.printPlanIfDry()) return;
  if (output !== '') context.io.stdout(output);
}

export function kataIpvsCommand(context: CliContext): Command {
  const command = new Command('kata-ipvs').description("a running pod's load balancer, with the kata-ipvs command set (ipvsadm's grammar; rr, wrr and sh on Linux)");
  command
    .command('ipvsadm <id>')
    .description('one ipvsadm command (-A -E -D -a -e -d -C -L -S --set), or a batch of rules in ipvsadm-save form on stdin; <id>: a pod name, its container ID or a unique prefix')
    .option('--parameters <args>', 'the ipvsadm arguments, split on whitespace (no shell)')
    .option('--restore <file>', 'read rules from stdin (only - is taken); the pod must have no rules unless --replace')
    .option('--replace', "with --restore: replace the pod's rules in one change (beyond the contract)")
    .action(async (id: string, options: IpvsadmOptions) => run(context, id, await requestOf(context, options)));
  command
    .command('cleanup <id>')
    .description("end the pod's tracked connections to an address: --parameters \"--orig-dst A.B.C.D --protonum tcp|udp\"")
    .requiredOption('--parameters <args>', 'conntrack -D options: --orig-dst ADDRESS --protonum tcp|udp')
    .action((id: string, options: { parameters: string }) => run(context, id, { kind: 'cleanup', parameters: options.parameters }));
  return command;
}
