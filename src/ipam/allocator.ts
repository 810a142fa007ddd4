// Address allocation for one range set, in the reference allocator's order and with
// its rules: a requested address must be free and not the gateway, and an attachment
// gets at most one address per range set. Callers hold the store's lock.
import { CniError, ErrorCode } from '../cni/errors.js';
import type { IPConfig } from '../cni/result.js';
import { formatIP, ipEqual, type IP } from './ip.js';
import { candidates, formatRangeSet, rangeFor, type Range, type RangeSet } from './range.js';
import type { LeaseStore } from './store.js';

export interface Allocation {
  ip: IP;
  config: IPConfig;
}

function toAllocation(ip: IP, range: Range): Allocation {
  return { ip, config: { address: `${formatIP(ip)}/${range.subnet.bits}`, gateway: formatIP(range.gateway) } };
}

async function allocateRequested(
  store: LeaseStore,
  set: RangeSet,
  index: number,
  attachment: { containerId: string; ifname: string },
  requested: IP,
): Promise<Allocation> {
  const range = rangeFor(set, requested);
  if (!range) {
    throw new CniError(ErrorCode.AddressUnavailable, `${formatIP(requested)} not in range set ${formatRangeSet(set)}`);
  }
  if (ipEqual(requested, range.gateway)) {
    throw new CniError(ErrorCode.AddressUnavailable, `requested ip ${formatIP(requested)} is subnet's gateway`);
  }
  if (!(await store.reserve(attachment.containerId, attachment.ifname, requested, index))) {
    throw new CniError(
      ErrorCode.AddressUnavailable,
      `requested IP address ${formatIP(requested)} is not available in range set ${formatRangeSet(set)}`,
    );
  }
  return toAllocation(requested, range);
}

export async function allocate(
  store: LeaseStore,
  set: RangeSet,
  index: number,
  attachment: { containerId: string; ifname: string },
  requested: IP | undefined,
): Promise<Allocation> {
  const held = await store.heldAfterCrash(attachment.containerId, attachment.ifname);
  if (requested) return allocateRequested(store, set, index, attachment, requested);
  for (const ip of held) {
    if (rangeFor(set, ip)) {
      throw new CniError(
        ErrorCode.DuplicateAllocation,
        `${formatIP(ip)} has been allocated to ${attachment.containerId}, duplicate allocation is not allowed`,
      );
    }
  }
  for (const { ip, range } of candidates(set, await store.lastReserved(index))) {
    if (await store.reserve(attachment.containerId, attachment.ifname, ip, index)) return toAllocation(ip, range);
  }
  throw new CniError(ErrorCode.AddressesExhausted, `no IP addresses available in range set: ${formatRangeSet(set)}`);
}
