// For chained plugins: the prevResult they must pass on.
import { CniError, ErrorCode } from '../cni/errors.js';
import type { Result } from '../cni/result.js';
import type { PluginRequest } from '../cni/skel.js';
import { formatIP, networkAddress, parsePrefix } from '../ipam/ip.js';

export function requirePrevResult(request: PluginRequest, plugin: string): Result {
  if (!request.prevResult) throw new CniError(ErrorCode.InvalidConfig, `${plugin} must be chained after an interface plugin (no prevResult)`);
  return request.prevResult;
}

/** The container's addresses: ips on the interface named CNI_IFNAME that has a sandbox. */
export function containerAddresses(result: Result, ifname: string): string[] {
  const index = result.interfaces.findIndex((i) => i.name === ifname && i.sandbox !== undefined);
  return result.ips.filter((ip) => index < 0 || ip.interface === undefined || ip.interface === index).map((ip) => ip.address.split('/')[0] as string);
}

/** The subnets of a result's addresses ("10.88.0.5/16" → "10.88.0.0/16"). */
export function subnetsOf(result: Result): string[] {
  return result.ips
    .map((ip) => parsePrefix(ip.address))
    .filter((p): p is NonNullable<typeof p> => p !== null)
    .map((p) => `${formatIP(networkAddress(p))}/${p.bits}`);
}
