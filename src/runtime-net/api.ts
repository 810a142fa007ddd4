// The runtime API's calls (kata-network and kata-ipvs, runtime-network-api.md §1.4, §1.7) as
// data and one function each, with the contract's stdout conventions: what the CLI's
// `jailnet kata-network|kata-ipvs` and jailnetd's socket both answer through, so that the
// two doors never call each other.
import type { PodContext } from '../pods/pods.js';
import { BalancerError } from '../balancer/rules.js';
import { cleanupIpvs, restoreIpvs, runIpvsadm } from './balancer.js';
import { decodeInterface, decodeRoutes, decodeRouteText, encode, interfaceJson, routeJson, type Interface, type Route } from './contract.js';
import { addInterface, deleteInterface, listInterfaces, updateInterface } from './interfaces.js';
import { IdError } from './resolve.js';
import { addRoute, deleteRoute, listRoutes, updateRoutes } from './routes.js';

type Input = Interface | Route | Route[] | undefined;

export interface NetworkCall {
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

export const KATA_NETWORK_CALLS: readonly NetworkCall[] = [
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

/** What a call printed on stdout, and the error when it failed. */
export interface CallOutcome {
  stdout: string;
  error?: unknown;
}

/**
 * One kata-network call: the answer as one JSON line; when the call itself fails `null` (or
 * what the call's `failure` says: del-iface echoes its input) and the error; when it fails
 * before (unreadable input, unknown or stopped pod) nothing on stdout.
 */
export async function kataNetwork(pods: () => Promise<PodContext>, name: string, id: string, input: () => Promise<string>): Promise<CallOutcome> {
  const call = KATA_NETWORK_CALLS.find((c) => c.name === name);
  let decoded: Input;
  let ctx: PodContext;
  try {
    if (!call) throw new Error(`no kata-network call named ${name}`);
    decoded = call.decode ? call.decode(await input()) : undefined;
    ctx = await pods();
  } catch (error) {
    return { stdout: '', error };
  }
  try {
    return { stdout: encode(await call.call(ctx, id, decoded)) };
  } catch (error) {
    return { stdout: error instanceof IdError ? '' : encode(call.failure ? call.failure(decoded) : null), error };
  }
}

/** A kata-ipvs request: one ipvsadm command, a batch of rules (ipvsadm-save form), or a conntrack cleanup. */
export type IpvsRequest = { kind: 'ipvsadm'; parameters: string } | { kind: 'restore'; rules: string; replace: boolean } | { kind: 'cleanup'; parameters: string };

/** What ipvsadm or conntrack would print: nothing for a change or a restore. */
export async function kataIpvs(ctx: PodContext, id: string, request: IpvsRequest): Promise<string> {
  if (request.kind === 'ipvsadm') return runIpvsadm(ctx, id, request.parameters);
  if (request.kind === 'cleanup') return cleanupIpvs(ctx, id, request.parameters);
  await restoreIpvs(ctx, id, request.rules, { replace: request.replace });
  return '';
}

/**
 * A kata-ipvs request in the one string kata's CLI sends its agent (§1.7): `ipvsadm ARGS`,
 * `conntrack -D ARGS`, or `restore|COUNT|RULES` (newline-joined, COUNT of them); jailnet
 * adds `restore-replace|COUNT|RULES` for the CLI's --replace.
 */
export function decodeIpvsRequest(text: string): IpvsRequest {
  const batch = /^(restore|restore-replace)\|(0|[1-9][0-9]{0,5})\|([^]*)$/.exec(text);
  if (batch) {
    const rules = batch[3] as string;
    const count = rules.split('\n').filter((l) => l.trim() !== '').length;
    if (count !== Number(batch[2])) throw new BalancerError(`restore announces ${batch[2]} rules and carries ${count}`);
    return { kind: 'restore', rules, replace: batch[1] === 'restore-replace' };
  }
  const command = /^(ipvsadm|conntrack -D)(?: ([^]*))?$/.exec(text);
  if (!command) throw new BalancerError('a kata-ipvs request is "ipvsadm ARGS", "conntrack -D ARGS" or "restore|COUNT|RULES"');
  return { kind: command[1] === 'ipvsadm' ? 'ipvsadm' : 'cleanup', parameters: command[2] ?? '' };
}
