// The ADD result in every supported spec version. Internally a result is kept in
// the 1.1.0 shape; it is converted only when written, to the version the config asks for.
import { z } from 'zod';
import { parseIP, parsePrefix } from '../ipam/ip.js';
import { CniError, ErrorCode } from './errors.js';
import { compareVersions, hasIPVersionField, requireSupported } from './versions.js';

const InterfaceSchema = z.looseObject({
  name: z.string(),
  mac: z.string().optional(),
  mtu: z.number().int().optional(),
  sandbox: z.string().optional(),
  socketPath: z.string().optional(),
  pciID: z.string().optional(),
});

// What Go's types.IPNet and net.IP decode: anything else fails there, and here.
const cidr = z.string().refine((text) => parsePrefix(text) !== null, { message: 'must be an address with its prefix length (CIDR)' });
const address = z.string().refine((text) => parseIP(text) !== null, { message: 'must be an IP address' });

const IPConfigSchema = z.looseObject({
  version: z.enum(['4', '6']).optional(),
  interface: z.number().int().nonnegative().optional(),
  address: cidr,
  gateway: address.optional(),
});

const RouteSchema = z.looseObject({
  dst: cidr,
  gw: address.optional(),
  mtu: z.number().int().optional(),
  advmss: z.number().int().optional(),
  priority: z.number().int().optional(),
  table: z.number().int().optional(),
  scope: z.number().int().optional(),
});

export const DNSSchema = z.looseObject({
  nameservers: z.array(z.string()).optional(),
  domain: z.string().optional(),
  search: z.array(z.string()).optional(),
  options: z.array(z.string()).optional(),
});

export const ResultSchema = z.looseObject({
  cniVersion: z.string().optional(),
  interfaces: z.array(InterfaceSchema).optional(),
  ips: z.array(IPConfigSchema).optional(),
  routes: z.array(RouteSchema).optional(),
  dns: DNSSchema.optional(),
});

export type Interface = z.infer<typeof InterfaceSchema>;
export type IPConfig = z.infer<typeof IPConfigSchema>;
export type Route = z.infer<typeof RouteSchema>;
export type DNS = z.infer<typeof DNSSchema>;

export interface Result {
  interfaces: Interface[];
  ips: IPConfig[];
  routes: Route[];
  dns: DNS;
}

export function emptyResult(): Result {
  return { interfaces: [], ips: [], routes: [], dns: {} };
}

/**
 * Reads a result (a prevResult or a plugin's output) of any supported version.
 * A prevResult without its own cniVersion is read in the config's version, as Go's skel does.
 */
export function parseResult(raw: unknown, fallbackVersion?: string): Result {
  const parsed = ResultSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CniError(ErrorCode.DecodingFailure, 'failed to decode result', z.prettifyError(parsed.error));
  }
  requireSupported(parsed.data.cniVersion ?? fallbackVersion);
  const { interfaces = [], ips = [], routes = [], dns = {} } = parsed.data;
  return {
    interfaces: interfaces.map((i) => ({ ...i })),
    ips: ips.map(({ version: _version, ...ip }) => ip),
    routes: routes.map((r) => ({ ...r })),
    dns: { ...dns },
  };
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}

function ipFamily(address: string): '4' | '6' {
  return address.includes(':') ? '6' : '4';
}

const ROUTE_FIELDS_1_1 = ['dst', 'gw', 'mtu', 'advmss', 'priority', 'table', 'scope'] as const;
const ROUTE_FIELDS_OLD = ['dst', 'gw'] as const;
const INTERFACE_FIELDS_1_x = ['name', 'mac', 'mtu', 'sandbox', 'socketPath', 'pciID'] as const;
const INTERFACE_FIELDS_OLD = ['name', 'mac', 'sandbox'] as const;

/** The result as the given spec version writes it, with keys in the reference plugins' order. */
export function formatResult(result: Result, version: string): Record<string, unknown> {
  requireSupported(version);
  const old = hasIPVersionField(version);
  const is11 = compareVersions(version, '1.1.0') >= 0;
  const out: Record<string, unknown> = { cniVersion: version };
  if (result.interfaces.length > 0) {
    out.interfaces = result.interfaces.map((i) => pick(i, old ? INTERFACE_FIELDS_OLD : INTERFACE_FIELDS_1_x));
  }
  if (result.ips.length > 0) {
    out.ips = result.ips.map((ip) => ({
      ...(old ? { version: ipFamily(ip.address) } : {}),
      ...pick(ip, ['interface', 'address', 'gateway'] as const),
    }));
  }
  if (result.routes.length > 0) {
    out.routes = result.routes.map((r) => pick(r, is11 ? ROUTE_FIELDS_1_1 : ROUTE_FIELDS_OLD));
  }
  // Like Go's omitempty: empty DNS fields are left out, the dns object itself never.
  const dns = pick(result.dns, ['nameservers', 'domain', 'search', 'options'] as const);
  out.dns = Object.fromEntries(Object.entries(dns).filter(([, v]) => (Array.isArray(v) ? v.length > 0 : v !== '')));
  return out;
}
