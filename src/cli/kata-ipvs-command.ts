// `jailnet kata-ipvs ipvsadm --parameters "…" <id>`, `… --restore - <id>` and
// `jailnet kata-ipvs cleanup --parameters "…" <id>`: a running pod's load balancer with the
// contract's command set (runtime-network-api.md §1.7). What ipvsadm or conntrack would
// print goes to stdout as it is, nothing when it is empty; errors are one line on stderr.
import { Command } from 'commander';
import { BalancerError } from '../balancer/rules.js';
import { cleanupIpvs, restoreIpvs, runIpvsadm } from '../runtime-net/balancer.js';
import { readStdin, type CliContext } from './context.js';

interface IpvsadmOptions {
  parameters?: string;
  restore?: string;
  replace?: boolean;
}

async function ipvsadm(context: CliContext, id: string, options: IpvsadmOptions): Promise<void> {
  if ((options.parameters === undefined) === (options.restore === undefined)) throw new BalancerError('give --parameters "IPVSADM ARGS" or --restore -');
  if (options.replace && options.restore === undefined) throw new BalancerError('--replace goes with --restore -');
  if (options.restore !== undefined) {
    if (options.restore !== '-') throw new BalancerError('please use --restore - for stdin');
    const text = await readStdin(context);
    await restoreIpvs(await context.pods(), id, text, { replace: options.replace === true });
    context.printPlanIfDry();
    return;
  }
  const output = await runIpvsadm(await context.pods(), id, options.parameters as string);
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
    .action((id: string, options: IpvsadmOptions) => ipvsadm(context, id, options));
  command
    .command('cleanup <id>')
    .description("end the pod's tracked connections to an address: --parameters \"--orig-dst A.B.C.D --protonum tcp|udp\"")
    .requiredOption('--parameters <args>', 'conntrack -D options: --orig-dst ADDRESS --protonum tcp|udp')
    .action(async (id: string, options: { parameters: string }) => {
      const output = await cleanupIpvs(await context.pods(), id, options.parameters);
      if (!context.printPlanIfDry()) context.io.stdout(output);
    });
  return command;
}
