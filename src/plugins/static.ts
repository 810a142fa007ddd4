// The static IPAM plugin (the reference's `static`): the addresses, routes and DNS the
// configuration names, as they are. It allocates nothing and stores nothing, so DEL, GC
// and STATUS have nothing to do. jailnet's netavark backend uses it for podman's
// `static_ips`: podman allocates, and an address podman chose must never be allocated twice.
import { z } from 'zod';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import { DNSSchema, type Result } from '../cni/result.js';
import type { Plugin, PluginRequest } from '../cni/skel.js';
import { familyOf, hostBitsSet, parseIP, parsePrefix } from '../ipam/ip.js';

const AddressSchema = z.object({ address: z.string(), gateway: z.string().optional() });
const RouteSchema = z.object({ dst: z.string(), gw: z.string().optional() });

/** The ipam object's fields (jailnet-cni(8) names each one; test/man-pages.ts checks). */
export const StaticIpamSchema = z.looseObject({
  addresses: z.array(AddressSchema).default([]),
  routes: z.array(RouteSchema).default([]),
  dns: DNSSchema.optional(),
});

const StaticConfSchema = z.looseObject({ ipam: StaticIpamSchema });

type StaticIpam = z.infer<typeof StaticConfSchema>['ipam'];

const invalid = (message: string): never => {
  throw new CniError(ErrorCode.InvalidConfig, message);
};

/** Each address an `ip/prefix` with a gateway of its family; each route a network prefix (no host bits). */
function checkIpam(ipam: StaticIpam): void {
  for (const { address, gateway } of ipam.addresses) {
    if (!parsePrefix(address)) invalid(`invalid static address "${address}": an address with its prefix length is needed`);
    if (gateway !== undefined && (!parseIP(gateway) || familyOf(gateway) !== familyOf(address))) invalid(`invalid gateway "${gateway}" for ${address}`);
  }
  for (const { dst, gw } of ipam.routes) {
    const prefix = parsePrefix(dst);
    if (!prefix) invalid(`invalid route destination "${dst}"`);
    if (hostBitsSet(prefix!)) invalid(`route destination "${dst}" has host bits set`);
    if (gw !== undefined && (!parseIP(gw) || familyOf(gw) !== familyOf(dst))) invalid(`invalid route gateway "${gw}" for ${dst}`);
  }
}

function loadIpam(request: PluginRequest): StaticIpam {
  const { ipam } = parseConfig(StaticConfSchema, request.config);
  checkIpam(ipam);
  return ipam;
}

async function add(request: PluginRequest): Promise<Result> {
  const ipam = loadIpam(request);
  return {
    interfaces: [],
    ips: ipam.addresses.map(({ address, gateway }) => ({ address, ...(gateway ? { gateway } : {}) })),
    routes: ipam.routes.map((route) => ({ ...route })),
    dns: ipam.dns ?? {},
  };
}

async function checkOnly(request: PluginRequest): Promise<void> {
  loadIpam(request);
}

export const staticIpam: Plugin = { add, del: checkOnly, check: checkOnly, gc: async () => undefined, status: checkOnly };
