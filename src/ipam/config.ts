// host-local's configuration: every field of the reference plugin, including the
// pre-0.3 single-range form, plus the requested addresses from CNI_ARGS, args and runtimeConfig.
import path from 'node:path';
import { z } from 'zod';
import { pickCniArgs, type CniArgs } from '../cni/args.js';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import { compareVersions } from '../cni/versions.js';
import { defaultIpamDataDir } from '../platform.js';
import { hostBitsSet, parseIP, parsePrefix, type IP } from './ip.js';
import { canonicalizeRangeSet, rangeSetsOverlap, type RangeInput, type RangeSet } from './range.js';

/** Kernel file systems: a lease directory there is refused (writes there hang, or reach the kernel). */
const PSEUDO_FILESYSTEMS = ['/proc', '/sys', '/dev'];

function isDataDir(dir: string): boolean {
  if (!path.isAbsolute(dir) || dir.split('/').includes('..') || /[\0\n]/.test(dir)) return false;
  const normal = path.normalize(dir);
  return !PSEUDO_FILESYSTEMS.some((root) => normal === root || normal.startsWith(`${root}/`));
}

export const RangeInputSchema = z.object({
  subnet: z.string(),
  rangeStart: z.string().optional(),
  rangeEnd: z.string().optional(),
  gateway: z.string().optional(),
});

const RouteInputSchema = z.object({
  dst: z.string().superRefine((dst, ctx) => {
    const prefix = parsePrefix(dst);
    if (!prefix) ctx.addIssue({ code: 'custom', message: 'dst must be an address prefix (CIDR)' });
    else if (hostBitsSet(prefix)) ctx.addIssue({ code: 'custom', message: `dst ${dst} has host bits set: give the network it names` });
  }),
  gw: z.string().refine((gw) => parseIP(gw) !== null, { message: 'gw must be an IP address' }).optional(),
});

export const IpamSchema = z.looseObject({
  type: z.string().optional(),
  ranges: z.array(z.array(RangeInputSchema)).optional(),
  routes: z.array(RouteInputSchema).optional(),
  dataDir: z
    .string()
    .refine(isDataDir, { message: 'dataDir must be an absolute path without "..", outside /proc, /sys and /dev' })
    .optional(),
  resolvConf: z.string().optional(),
  // The legacy single range, at the top of the ipam object.
  subnet: z.string().optional(),
  rangeStart: z.string().optional(),
  rangeEnd: z.string().optional(),
  gateway: z.string().optional(),
});

const HostLocalConfSchema = z.looseObject({
  cniVersion: z.string(),
  name: z.string(),
  ipam: IpamSchema.optional(),
  args: z.looseObject({ cni: z.looseObject({ ips: z.array(z.string()).optional() }).optional() }).optional(),
  runtimeConfig: z
    .looseObject({
      ips: z.array(z.string()).optional(),
      ipRanges: z.array(z.array(RangeInputSchema)).optional(),
    })
    .optional(),
});

export type RouteInput = z.infer<typeof RouteInputSchema>;

export interface HostLocalConfig {
  network: string;
  cniVersion: string;
  dataDir: string;
  rangeSets: RangeSet[];
  routes: RouteInput[];
  resolvConf: string | undefined;
  requestedIPs: IP[];
}

function parseRequested(text: string, source: string): IP {
  const trimmed = text.trim();
  const ip = trimmed.includes('/') ? parsePrefix(trimmed)?.ip : parseIP(trimmed);
  if (!ip) throw new CniError(ErrorCode.InvalidConfig, `invalid IP address requested in ${source}`, text);
  return ip;
}

function requestedAddresses(conf: z.infer<typeof HostLocalConfSchema>, cniArgs: CniArgs): IP[] {
  const { IP: fromEnv } = pickCniArgs(cniArgs, ['IP', 'K8S_POD_NAMESPACE', 'K8S_POD_NAME', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']);
  const requested: IP[] = [];
  if (fromEnv) for (const item of fromEnv.split(',')) requested.push(parseRequested(item, 'CNI_ARGS IP'));
  for (const item of conf.args?.cni?.ips ?? []) requested.push(parseRequested(item, 'args.cni.ips'));
  for (const item of conf.runtimeConfig?.ips ?? []) requested.push(parseRequested(item, 'runtimeConfig.ips'));
  return requested;
}

/** Validates everything before any lease is touched; a bad config is code 7 and changes nothing. */
export function loadHostLocalConfig(raw: unknown, cniArgs: CniArgs): HostLocalConfig {
  const conf = parseConfig(HostLocalConfSchema, raw);
  const ipam = conf.ipam;
  if (!ipam) throw new CniError(ErrorCode.InvalidConfig, "IPAM config missing 'ipam' key");
  let inputs: RangeInput[][] = conf.runtimeConfig?.ipRanges ?? ipam.ranges ?? [];
  if (ipam.subnet) {
    const legacy = { subnet: ipam.subnet, rangeStart: ipam.rangeStart, rangeEnd: ipam.rangeEnd, gateway: ipam.gateway };
    inputs = [[legacy], ...inputs];
  }
  if (inputs.length === 0) throw new CniError(ErrorCode.InvalidConfig, 'no IP ranges specified');
  const rangeSets = inputs.map((set, index) => {
    try {
      return canonicalizeRangeSet(set);
    } catch (error) {
      throw new CniError(ErrorCode.InvalidConfig, `invalid range set ${index}`, (error as Error).message);
    }
  });
  const v4Sets = rangeSets.filter((s) => s[0]?.rangeStart.family === 4).length;
  if ((v4Sets > 1 || rangeSets.length - v4Sets > 1) && compareVersions(conf.cniVersion, '0.3.0') < 0) {
    throw new CniError(ErrorCode.InvalidConfig, `CNI version ${conf.cniVersion} does not support more than 1 address per family`);
  }
  for (let i = 0; i < rangeSets.length; i++) {
    for (let j = i + 1; j < rangeSets.length; j++) {
      if (rangeSetsOverlap(rangeSets[i] as RangeSet, rangeSets[j] as RangeSet)) {
        throw new CniError(ErrorCode.InvalidConfig, `range set ${i} overlaps with ${j}`);
      }
    }
  }
  return {
    network: conf.name,
    cniVersion: conf.cniVersion,
    dataDir: ipam.dataDir ?? defaultIpamDataDir(),
    rangeSets,
    routes: ipam.routes ?? [],
    resolvConf: ipam.resolvConf,
    requestedIPs: requestedAddresses(conf, cniArgs),
  };
}
