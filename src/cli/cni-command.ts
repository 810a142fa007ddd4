// `jailnet cni add|del|check|gc|status`: a chain run against one network, as a
// runtime would do it, with libcni's cache under the configured cache directory.
import { Command, Option } from 'commander';
import { parseCniArgs } from '../cni/args.js';
import type { RuntimeConf } from '../cni/chain.js';
import { findNetwork, loadConfListFile, type ConfList } from '../cni/conflist.js';
import { CniError, ErrorCode } from '../cni/errors.js';
import { decodeJson } from '../cni/netconf.js';
import type { Attachment } from '../cni/skel.js';
import type { CliContext } from './context.js';

interface NetworkOptions {
  conflist?: string;
  network?: string;
}

interface AttachmentOptions extends NetworkOptions {
  containerId: string;
  netns?: string;
  ifname: string;
  args?: string;
  runtimeConfig?: string;
}

async function loadList(context: CliContext, options: NetworkOptions): Promise<ConfList> {
  if (options.conflist && options.network) {
    throw new CniError(ErrorCode.InvalidConfig, 'give either --conflist or --network, not both');
  }
  if (options.conflist) return loadConfListFile(options.conflist);
  if (options.network) return findNetwork((await context.config()).runtime.cniConfigDir, options.network);
  throw new CniError(ErrorCode.InvalidConfig, 'a network is needed: --conflist FILE or --network NAME');
}

function runtimeConf(options: AttachmentOptions): RuntimeConf {
  let capabilityArgs: Record<string, unknown> = {};
  if (options.runtimeConfig !== undefined) {
    const parsed = decodeJson(options.runtimeConfig, '--runtime-config');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new CniError(ErrorCode.DecodingFailure, '--runtime-config must be a JSON object');
    }
    capabilityArgs = parsed as Record<string, unknown>;
  }
  return {
    containerId: options.containerId,
    netns: options.netns ?? '',
    ifname: options.ifname,
    args: parseCniArgs(options.args),
    capabilityArgs,
  };
}

function parseValid(value: string, previous: Attachment[] = []): Attachment[] {
  const match = /^([^:]+):([^:]+)$/.exec(value);
  if (!match) throw new CniError(ErrorCode.InvalidConfig, `--valid takes CONTAINERID:IFNAME, got "${value}"`);
  return [...previous, { containerID: match[1] as string, ifname: match[2] as string }];
}

function withNetworkOptions(command: Command): Command {
  return command
    .option('--conflist <file>', 'network configuration list file')
    .option('--network <name>', 'network name, looked up in the CNI config dir');
}

function withAttachmentOptions(command: Command, netnsRequired: boolean): Command {
  return withNetworkOptions(command)
    .requiredOption('--container-id <id>', 'container ID (CNI_CONTAINERID)')
    .addOption(
      netnsRequired
        ? new Option('--netns <netns>', 'isolation domain: a jail name on FreeBSD, a netns path on Linux').makeOptionMandatory()
        : new Option('--netns <netns>', 'isolation domain (may be empty for DEL)'),
    )
    .option('--ifname <name>', 'interface name in the container', 'eth0')
    .option('--args <K=V;...>', 'CNI_ARGS')
    .option('--runtime-config <json>', 'capability arguments, e.g. {"portMappings":[...]}');
}

export function cniCommand(context: CliContext): Command {
  const cni = new Command('cni').description('run a CNI network configuration list as a runtime does');

  withAttachmentOptions(cni.command('add').description('add an attachment; prints the result'), true).action(
    async (options: AttachmentOptions) => {
      const result = await (await context.runner()).add(await loadList(context, options), runtimeConf(options));
      if (context.printPlanIfDry()) return;
      context.print(result, () => JSON.stringify(result, null, 2));
    },
  );

  withAttachmentOptions(cni.command('del').description('delete an attachment (idempotent)'), false).action(
    async (options: AttachmentOptions) => {
      const list = await loadList(context, options);
      await (await context.runner()).del(list, runtimeConf(options));
      if (context.printPlanIfDry()) return;
      context.print({ deleted: { network: list.name, containerId: options.containerId, ifname: options.ifname } }, () => '');
    },
  );

  withAttachmentOptions(cni.command('check').description('check an attachment against its cached result'), true).action(
    async (options: AttachmentOptions) => {
      const list = await loadList(context, options);
      await (await context.runner()).check(list, runtimeConf(options));
      if (context.printPlanIfDry()) return;
      context.print({ network: list.name, containerId: options.containerId, ifname: options.ifname, ok: true }, () => '');
    },
  );

  withNetworkOptions(cni.command('gc').description('delete every cached attachment not named by --valid, then GC each plugin'))
    .option('--valid <containerid:ifname>', 'an attachment to keep (repeatable)', parseValid, [])
    .action(async (options: NetworkOptions & { valid: Attachment[] }) => {
      const removed = await (await context.runner()).gc(await loadList(context, options), options.valid);
      if (context.printPlanIfDry()) return;
      context.print({ removed }, () =>
        removed.map((r) => `removed ${r.network} ${r.containerId} ${r.ifname}`).join('\n'),
      );
    });

  withNetworkOptions(cni.command('status').description('ask every plugin whether it can serve ADD now')).action(
    async (options: NetworkOptions) => {
      const list = await loadList(context, options);
      await (await context.runner()).status(list);
      if (context.printPlanIfDry()) return;
      context.print({ network: list.name, ready: true }, () => `${list.name}: ready`);
    },
  );

  return cni;
}
