// `jailnet kata-network <sub> <id> [FILE|-]`: the runtime network API with the contract's
// stdout conventions (runtime-network-api.md §1.4): the answer as one JSON line; on a
// failure of the call itself `null` (del-iface: its input echoed) and the error on
// stderr, exit 1; an early failure (unreadable input, unknown or stopped pod) prints
// nothing on stdout.
import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import type { PodContext } from '../pods/pods.js';
import {
  decodeInterface,
  decodeRoutes,
  decodeRouteText,
  encode,
  interfaceJson,
  routeJson,
  type Interface,
  type Route,
} from '../runtime-net/contract.js';
import { addInterface, deleteInterface, listInterfaces, updateInterface } from '../runtime-net/interfaces.js';
import { IdError } from '../runtime-net/resolve.js';
import { addRoute, deleteRoute, listRoutes, updateRoutes } from '../runtime-net/routes.js';
import { readStdin, type CliContext } from './context.js';

type Input = Interface | Route | Route[] | undefined;

interface Sub {
  name: string;
  description: string;
  decode?: (text: string) => Input;
  call(ctx: PodContext, id: string, input: Input): Promise<unknown>;
  /** What stdout gets when the call fails. */
  failure?: (input: Input) => unknown;
}

/** The CLI's default for add and remove, as the contract's (update leaves it empty). */
const withTapDefault = (text: string): Interface => {
  const iface = decodeInterface(text);
  return { ...iface, linkType: iface.linkType === '' ? 'tap' : iface.linkType };
};

const routesJson = (routes: Array<{ dest: string; gateway?: string; device: string }>) => (routes.length === 0 ? null : routes.map(routeJson));

const SUBS: Sub[] = [
  { name: 'add-iface', description: 'plug an interface into a running pod (a tap, or an epair/veth with its host end as "device")', decode: withTapDefault, call: async (ctx, id, i) => interfaceJson(await addInterface(ctx, id, i as Interface)) },
  {
    name: 'del-iface',
    description: 'take an interface added with add-iface away (a tap jailnet did not make goes back to the host)',
    decode: withTapDefault,
    call: async (ctx, id, i) => {
      await deleteInterface(ctx, id, i as Interface);
      return null;
    },
    failure: (i) => interfaceJson(i as Interface, { echo: true }),
  },
  { name: 'update-iface', description: "replace an added interface's address (only name and IPAddresses are taken)", decode: decodeInterface, call: async (ctx, id, i) => interfaceJson(await updateInterface(ctx, id, i as Interface)) },
  { name: 'list-ifaces', description: 'the interfaces added through this API', call: (ctx, id) => listInterfaces(ctx, id) },
  { name: 'add-route', description: 'add a route inside the pod', decode: decodeRouteText, call: async (ctx, id, r) => routesJson(await addRoute(ctx, id, r as Route)) },
  { name: 'del-route', description: 'remove every added route matching dest (and gateway, device when given)', decode: decodeRouteText, call: async (ctx, id, r) => routesJson(await deleteRoute(ctx, id, r as Route)) },
  { name: 'update-routes', description: 'make the added routes exactly the given array', decode: decodeRoutes, call: async (ctx, id, r) => routesJson(await updateRoutes(ctx, id, r as Route[])) },
  { name: 'list-routes', description: "the pod's routing table", call: async (ctx, id) => routesJson(await listRoutes(ctx, id)) },
];

async function readInput(context: CliContext, file: string | undefined): Promise<string> {
  if (file === undefined) throw new Error('give the JSON input as a FILE, or - for stdin');
  return file === '-' ? readStdin(context) : readFile(file, 'utf8');
}

async function run(context: CliContext, sub: Sub, id: string, file: string | undefined): Promise<void> {
  // Early failures: nothing on stdout.
  const input = sub.decode ? sub.decode(await readInput(context, file)) : undefined;
  const ctx = await context.pods();
  let answer: unknown;
  try {
    answer = await sub.call(ctx, id, input);
  } catch (error) {
    if (!(error instanceof IdError) && !context.json() && !context.dryRun()) context.io.stdout(encode(sub.failure ? sub.failure(input) : null));
    throw error;
  }
  if (context.printPlanIfDry()) return;
  context.io.stdout(encode(answer));
}

/** Whether the subcommand reads a JSON input (FILE or -). */
export const takesInput = (name: string): boolean => SUBS.find((s) => s.name === name)?.decode !== undefined;

export function kataNetworkCommand(context: CliContext): Command {
  const command = new Command('kata-network').description("a running pod's interfaces and routes, with the kata-network JSON contract");
  for (const sub of SUBS) {
    command
      .command(`${sub.name} <id>${sub.decode ? ' <file>' : ''}`)
      .description(`${sub.description}; <id>: a pod name, its container ID or a unique prefix${sub.decode ? '; <file>: the JSON, - for stdin' : ''}`)
      // commander passes the options object where a command has no <file>.
      .action((id: string, file: unknown) => run(context, sub, id, sub.decode ? (file as string) : undefined));
  }
  return command;
}
