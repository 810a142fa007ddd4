// host-local address ranges and range sets, canonicalized as the reference plugin does, so
// the same config allocates the same addresses in the same order; but a gateway outside its
// subnet, or on its network or broadcast address, is refused (Debian's reference takes it).
import {
  compareIP,
  formatIP,
  formatPrefix,
  ipEqual,
  lastAddress,
  networkAddress,
  nextIP,
  parseIP,
  parsePrefix,
  prefixContains,
  previousIP,
  type IP,
  type Prefix,
} from './ip.js';

export interface RangeInput {
  subnet: string;
  rangeStart?: string | undefined;
  rangeEnd?: string | undefined;
  gateway?: string | undefined;
}

export interface Range {
  subnet: Prefix;
  rangeStart: IP;
  rangeEnd: IP;
  gateway: IP;
}

export type RangeSet = Range[];

function parseAddress(text: string, field: string): IP {
  const ip = parseIP(text);
  if (!ip) throw new Error(`invalid ${field} "${text}"`);
  return ip;
}

function boundsContain(range: Pick<Range, 'subnet'> & Partial<Range>, ip: IP): boolean {
  if (!prefixContains(range.subnet, ip)) return false;
  if (range.rangeStart && compareIP(ip, range.rangeStart) < 0) return false;
  if (range.rangeEnd && compareIP(ip, range.rangeEnd) > 0) return false;
  return true;
}

/** The default end of a range: the broadcast address is excluded for IPv4 only. */
function defaultRangeEnd(subnet: Prefix): IP {
  const last = lastAddress(subnet);
  return subnet.ip.family === 4 ? previousIP(last) : last;
}

/**
 * A given gateway must be a host of its subnet: not outside it (a route to it would have no
 * interface), not its network address, and for IPv4 not its broadcast address.
 */
function checkGatewayPlace(gateway: IP, subnet: Prefix): void {
  if (!prefixContains(subnet, gateway)) throw new Error(`gateway ${formatIP(gateway)} not in network ${formatPrefix(subnet)}`);
  if (ipEqual(gateway, networkAddress(subnet))) throw new Error(`gateway ${formatIP(gateway)} is the network address of ${formatPrefix(subnet)}`);
  if (gateway.family === 4 && ipEqual(gateway, lastAddress(subnet))) throw new Error(`gateway ${formatIP(gateway)} is the broadcast address of ${formatPrefix(subnet)}`);
}

export function canonicalizeRange(input: RangeInput): Range {
  const subnet = parsePrefix(input.subnet);
  if (!subnet) throw new Error(`invalid subnet "${input.subnet}"`);
  const width = subnet.ip.family === 4 ? 32 : 128;
  if (subnet.bits > width - 2) throw new Error(`Network ${formatPrefix(subnet)} too small to allocate from`);
  const network = networkAddress(subnet);
  if (!ipEqual(network, subnet.ip)) {
    throw new Error(
      `Network has host bits set. For a subnet mask of length ${subnet.bits} the network address is ${formatIP(network)}`,
    );
  }
  const gateway = input.gateway ? parseAddress(input.gateway, 'gateway') : nextIP(network);
  if (input.gateway) checkGatewayPlace(gateway, subnet);
  const partial: Pick<Range, 'subnet'> & Partial<Range> = { subnet };
  let rangeStart = nextIP(network);
  if (input.rangeStart) {
    rangeStart = parseAddress(input.rangeStart, 'rangeStart');
    if (!boundsContain(partial, rangeStart)) {
      throw new Error(`RangeStart ${formatIP(rangeStart)} not in network ${formatPrefix(subnet)}`);
    }
  }
  partial.rangeStart = rangeStart;
  let rangeEnd = defaultRangeEnd(subnet);
  if (input.rangeEnd) {
    rangeEnd = parseAddress(input.rangeEnd, 'rangeEnd');
    if (!boundsContain(partial, rangeEnd)) {
      throw new Error(`RangeEnd ${formatIP(rangeEnd)} not in network ${formatPrefix(subnet)}`);
    }
  }
  return { subnet, rangeStart, rangeEnd, gateway };
}

export function rangeContains(range: Range, ip: IP): boolean {
  return boundsContain(range, ip);
}

function rangesOverlap(a: Range, b: Range): boolean {
  if (a.rangeStart.family !== b.rangeStart.family) return false;
  return (
    rangeContains(a, b.rangeStart) ||
    rangeContains(a, b.rangeEnd) ||
    rangeContains(b, a.rangeStart) ||
    rangeContains(b, a.rangeEnd)
  );
}

export function formatRange(range: Range): string {
  return `${formatIP(range.rangeStart)}-${formatIP(range.rangeEnd)}`;
}

export function formatRangeSet(set: RangeSet): string {
  return set.map(formatRange).join(',');
}

export function canonicalizeRangeSet(inputs: RangeInput[]): RangeSet {
  if (inputs.length === 0) throw new Error('empty range set');
  const set = inputs.map(canonicalizeRange);
  const family = set[0]?.rangeStart.family;
  if (set.some((r) => r.rangeStart.family !== family)) throw new Error('mixed address families');
  for (let i = 0; i < set.length; i++) {
    for (let j = i + 1; j < set.length; j++) {
      const a = set[i] as Range;
      const b = set[j] as Range;
      if (rangesOverlap(a, b)) throw new Error(`subnets ${formatRange(a)} and ${formatRange(b)} overlap`);
    }
  }
  return set;
}

export function rangeFor(set: RangeSet, ip: IP): Range | undefined {
  return set.find((r) => rangeContains(r, ip));
}

export function rangeSetsOverlap(a: RangeSet, b: RangeSet): boolean {
  return a.some((ra) => b.some((rb) => rangesOverlap(ra, rb)));
}

/**
 * Candidate addresses of a range set in the reference allocator's order: round-robin
 * from the address after the last reserved one, wrapping across the set's ranges,
 * each address once, gateways skipped.
 */
export function* candidates(set: RangeSet, lastReserved: IP | undefined): Generator<{ ip: IP; range: Range }> {
  let index = 0;
  let current: IP | undefined;
  let startIP: IP | undefined;
  const startIndex = lastReserved ? set.findIndex((r) => rangeContains(r, lastReserved)) : -1;
  if (startIndex >= 0) {
    index = startIndex;
    current = lastReserved;
  } else {
    startIP = set[0]?.rangeStart;
  }
  // Where the walk began: the range is recorded with the address. (The reference keeps
  // the range of the last reservation instead, and loops forever when that address
  // ends its range and the set is full; the order is otherwise the same.)
  let origin = index;
  for (;;) {
    let range = set[index] as Range;
    if (current === undefined) {
      current = range.rangeStart;
      startIP = current;
    } else {
      if (ipEqual(current, range.rangeEnd)) {
        index = (index + 1) % set.length;
        range = set[index] as Range;
        current = range.rangeStart;
      } else {
        current = nextIP(current);
      }
      if (startIP === undefined) {
        startIP = current;
        origin = index;
      } else if (index === origin && ipEqual(current, startIP)) return;
    }
    if (!ipEqual(current, range.gateway)) yield { ip: current, range };
  }
}
