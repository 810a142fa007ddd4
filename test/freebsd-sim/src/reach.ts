// The reachability query: would a packet from a vnet (or from another host) to an
// address and port be delivered, and where? It follows routes, epair peers, bridge
// segments, net.inet.ip.forwarding, pf rdr rules and pf filter rules (main ruleset and
// the anchors it hooks). One direction only: replies and nat are not evaluated.
import { formatIP, parseIP, parsePrefix, prefixContains, type IP } from '../../../dist/ipam/ip.js';
import { contextVnet, ifaceById, ifacesIn, lookupJail } from './model.js';
import { linkActive } from './format.js';
import { lookupRoute } from './route.js';
import { HOST, type Iface, type Pf, type SimState } from './state.js';

export interface ReachQuery {
  /** "external" (another host on the uplink), "host", or a jail name. */
  from: string;
  to: string;
  port: number;
  proto?: 'tcp' | 'udp' | 'sctp';
}

export interface ReachResult {
  delivered: boolean;
  /** Where the packet ended: a vnet id, or "external". */
  vnet?: string;
  /** The jails whose processes see that vnet (the vnet jail and its children). */
  jails?: string[];
  address?: string;
  port?: number;
  /** The packet's source address as it arrived. */
  source?: string;
  /** The vnet whose pf redirected the packet, and what the destination was before. */
  redirected?: { vnet: string; address: string; port: number };
  /** One line per step, for test failure messages. */
  path: string[];
  reason?: string;
}

interface Packet {
  src?: IP;
  dst: IP;
  port: number;
  proto: string;
  /** Set by an rdr: the destination before it. */
  original?: { address: string; port: number };
}

function addressOwner(state: SimState, vnet: string, ip: IP): Iface | undefined {
  return ifacesIn(state, vnet).find(
    (i) =>
      i.up &&
      (ip.family === 4
        ? i.inet.some((a) => a.address === formatIP(ip) || (i.cloner === 'lo' && ip.value >> 24n === 127n && a.address.startsWith('127.')))
        : i.inet6.some((a) => a.address === formatIP(ip))),
  );
}

/** The L2 segment of an interface: bridge members and epair peers, transitively. */
function segment(state: SimState, start: Iface): Iface[] {
  const seen = new Map<number, Iface>();
  const queue = [start];
  while (queue.length > 0) {
    const iface = queue.pop() as Iface;
    if (seen.has(iface.id)) continue;
    seen.set(iface.id, iface);
    const peer = ifaceById(state, iface.peer);
    if (peer) queue.push(peer);
    const bridge = ifaceById(state, iface.memberOf);
    if (bridge) queue.push(bridge);
    if (iface.cloner === 'bridge') queue.push(...state.ifaces.filter((m) => m.memberOf === iface.id));
  }
  return [...seen.values()];
}

interface RdrRule {
  on?: string;
  proto?: string;
  from: string;
  to: string;
  negateTo: boolean;
  port?: number;
  /** The pool: one address, or a list in order (repeats kept). */
  targets: string[];
  targetPort?: number;
  sticky: boolean;
}

function parseRdr(line: string): RdrRule | undefined {
  const match =
    /^rdr(?: pass)?(?: on (\S+))?(?: (?:inet|inet6))?(?: proto (\S+))? from (\S+) to (!\s*)?(\S+)(?: port = (\d+))? -> (\{[^}]*\}|\S+)(?: port (\d+))?(.*)$/.exec(
      line,
    );
  if (!match) return undefined;
  const pool = match[7] as string;
  return {
    on: match[1],
    proto: match[2],
    from: match[3] as string,
    negateTo: Boolean(match[4]),
    to: match[5] as string,
    port: match[6] ? Number(match[6]) : undefined,
    targets: pool.startsWith('{') ? pool.slice(1, -1).split(/[\s,]+/).filter(Boolean) : [pool],
    targetPort: match[8] ? Number(match[8]) : undefined,
    sticky: /\bsticky-address\b/.test(match[9] ?? ''),
  };
}

/**
 * The pool address a new connection gets (pf_lb.c pf_map_addr): a live sticky-address
 * source node first, else the round-robin pool's next entry in list order. With `commit`
 * the pool advances and the source node is made or refreshed, as a real connection does.
 */
function mapAddress(pf: Pf, key: string, rule: RdrRule, packet: Packet, commit: boolean): string {
  const now = Date.now();
  const src = packet.src ? formatIP(packet.src) : '';
  const node = rule.sticky ? (pf.sources ?? []).find((n) => n.rule === key && n.src === src && n.expires > now) : undefined;
  const index = pf.pools?.[key] ?? 0;
  const address = node?.address ?? (rule.targets[index % rule.targets.length] as string);
  if (commit) {
    if (!node) pf.pools = { ...pf.pools, [key]: (index + 1) % rule.targets.length };
    if (rule.sticky) {
      // The node outlives the connection by src.track seconds (pf.conf(5), "sticky-address"; a guess: measured from its last use).
      const expires = now + (pf.timeouts?.['src.track'] ?? 0) * 1000;
      pf.sources = [...(pf.sources ?? []).filter((n) => !(n.rule === key && n.src === src)), { rule: key, src, address, expires }];
    }
  }
  return address;
}

function addressMatches(state: SimState, vnet: string, pf: Pf, anchor: string, spec: string, ip: IP | undefined): boolean {
  if (spec === 'any') return true;
  if (!ip) return false;
  // `self`: any address on an interface of this vnet.
  if (spec === 'self') return addressOwner(state, vnet, ip) !== undefined;
  const table = /^<(.+)>$/.exec(spec)?.[1];
  if (table) {
    const entries = pf.tables[`${anchor}:${table}`] ?? pf.tables[`:${table}`];
    return (entries?.addresses ?? []).some((a) => addressMatches(state, vnet, pf, anchor, a, ip));
  }
  const iface = /^\((\S+?)(?::0)?\)$/.exec(spec)?.[1];
  if (iface) {
    const owner = ifacesIn(state, vnet).find((i) => i.name === iface);
    return owner ? owner.inet.some((a) => a.address === formatIP(ip)) || owner.inet6.some((a) => a.address === formatIP(ip)) : false;
  }
  const prefix = spec.includes('/') ? parsePrefix(spec) : null;
  if (prefix) return prefixContains(prefix, ip);
  const single = parseIP(spec);
  return single !== null && single.family === ip.family && single.value === ip.value;
}

/**
 * The rules pf evaluates in a vnet for one section, in order: the main ruleset, with the
 * anchors it hooks (`rdr-anchor "x/*"`, `anchor "x"` …) expanded in place.
 */
function hookedRules(pf: Pf, section: 'rdr' | 'rules', hook: string): Array<{ anchor: string; line: string }> {
  const out: Array<{ anchor: string; line: string }> = [];
  const expand = (anchor: string, depth: number) => {
    for (const line of pf.anchors[anchor]?.[section] ?? []) {
      const target = new RegExp(`^${hook} "([^"]+)"`).exec(line)?.[1];
      if (!target) {
        out.push({ anchor, line });
        continue;
      }
      if (depth > 8) continue;
      if (target.endsWith('/*')) {
        const base = target.slice(0, -2);
        const children = Object.keys(pf.anchors)
          .filter((a) => a.startsWith(`${base}/`) && !a.slice(base.length + 1).includes('/'))
          .sort();
        for (const child of children) expand(child, depth + 1);
      } else {
        expand(target, depth + 1);
      }
    }
  };
  expand('', 0);
  return out;
}

const FILTER = /^(pass|block)(?: (?:drop|return))?(?: (in|out))?( quick)?(?: on (\S+))?(?: (inet6?))?(?: proto (\S+))?(?: (all)| from (!\s*)?(\S+) to (!\s*)?(\S+)(?: port = (\d+))?)/;

/** pf's filter verdict for a packet: the last matching rule wins, a quick one at once; no match passes. */
function filterVerdict(state: SimState, vnet: string, inbound: string, packet: Packet): { pass: boolean; rule?: string } {
  const pf = state.vnets.find((v) => v.id === vnet)?.pf;
  if (!pf?.enabled) return { pass: true };
  let verdict: { pass: boolean; rule?: string } = { pass: true };
  for (const { anchor, line } of hookedRules(pf, 'rules', 'anchor')) {
    const m = FILTER.exec(line);
    if (!m) continue;
    const [, action, direction, quick, on, af, proto, all, negFrom, from, negTo, to, port] = m;
    // pf.conf(5): a rule with a direction applies to packets of that direction only.
    if (direction === 'out') continue;
    if (on && on !== inbound) continue;
    if (af && (af === 'inet6') !== (packet.dst.family === 6)) continue;
    if (proto && proto !== packet.proto) continue;
    if (!all) {
      if (addressMatches(state, vnet, pf, anchor, from as string, packet.src) === Boolean(negFrom)) continue;
      if (addressMatches(state, vnet, pf, anchor, to as string, packet.dst) === Boolean(negTo)) continue;
      if (port && Number(port) !== packet.port) continue;
    }
    verdict = { pass: action === 'pass', rule: `${anchor ? `anchor ${anchor}: ` : ''}${line}` };
    if (quick) break;
  }
  return verdict;
}

function applyRdr(state: SimState, vnet: string, inbound: string, packet: Packet, commit: boolean): string | undefined {
  const pf = state.vnets.find((v) => v.id === vnet)?.pf;
  if (!pf?.enabled) return undefined;
  for (const { anchor, line } of hookedRules(pf, 'rdr', 'rdr-anchor')) {
    const rule = parseRdr(line);
    if (!rule) continue;
    if (rule.on && rule.on !== inbound) continue;
    if (rule.proto && rule.proto !== packet.proto) continue;
    if (!addressMatches(state, vnet, pf, anchor, rule.from, packet.src)) continue;
    const toMatches = addressMatches(state, vnet, pf, anchor, rule.to, packet.dst);
    if (toMatches === rule.negateTo) continue;
    if (rule.port !== undefined && rule.port !== packet.port) continue;
    const target = parseIP(mapAddress(pf, `${anchor}|${line}`, rule, packet, commit));
    if (!target) continue;
    packet.original = { address: formatIP(packet.dst), port: packet.port };
    packet.dst = target;
    if (rule.targetPort !== undefined) packet.port = rule.targetPort;
    return `rdr in ${vnet}${anchor ? ` anchor ${anchor}` : ''}: ${line}`;
  }
  return undefined;
}

/**
 * pf's verdict on a packet leaving by `egress`, from the rules with `out`: blocked, sent
 * out by lo0 (`route-to lo0`, pf.conf(5)), or neither. The last match wins, a quick one
 * at once, as for any filter rule; `on ! if` matches every other interface.
 */
function outboundVerdict(state: SimState, vnet: string, egress: string, packet: Packet): { loopback?: string; blocked?: string } {
  const pf = state.vnets.find((v) => v.id === vnet)?.pf;
  if (!pf?.enabled) return {};
  let verdict: { loopback?: string; blocked?: string } = {};
  for (const { anchor, line } of hookedRules(pf, 'rules', 'anchor')) {
    const m = /^(pass|block)(?: (?:drop|return))? out( quick)?(?: on (!\s*)?(\S+))?(?: route-to (?:\((\S+)(?: \S+)?\)|(\S+)))?(?: (inet6?))?(?: proto (\S+))? from (\S+) to (\S+)(?: port = (\d+))?/.exec(line);
    if (!m) continue;
    const [, action, quick, notOn, on, routeIfInParens, routeIf, af, proto, from, to, port] = m;
    if (on && (on === egress) === Boolean(notOn)) continue;
    if (af && (af === 'inet6') !== (packet.dst.family === 6)) continue;
    if (proto && proto !== packet.proto) continue;
    if (!addressMatches(state, vnet, pf, anchor, from as string, packet.src)) continue;
    if (!addressMatches(state, vnet, pf, anchor, to as string, packet.dst)) continue;
    if (port && Number(port) !== packet.port) continue;
    const target = routeIfInParens ?? routeIf;
    const rule = `${anchor ? `anchor ${anchor}: ` : ''}${line}`;
    verdict = action === 'block' ? { blocked: rule } : target === 'lo0' ? { loopback: `route-to lo0 by ${rule}` } : {};
    if (quick) break;
  }
  return verdict;
}

function delivered(state: SimState, vnet: string, owner: Iface, packet: Packet, path: string[], redirected: ReachResult['redirected']): ReachResult {
  path.push(`delivered in ${vnet} on ${owner.name}`);
  const source = packet.src ? { source: formatIP(packet.src) } : {};
  return { delivered: true, vnet, jails: jailsOf(state, vnet), address: formatIP(packet.dst), port: packet.port, ...source, ...(redirected ? { redirected } : {}), path };
}

function forwards(state: SimState, vnet: string, dst: IP): boolean {
  const sysctls = state.vnets.find((v) => v.id === vnet)?.sysctls ?? {};
  return (dst.family === 4 ? sysctls['net.inet.ip.forwarding'] : sysctls['net.inet6.ip6.forwarding']) === '1';
}

function jailsOf(state: SimState, vnet: string): string[] {
  return state.jails.filter((j) => j.vnetId === vnet && !j.dying).map((j) => j.name);
}

/** Where a query's packet starts: its vnet, the interface it arrives on (none: locally originated), its source. */
function startOf(state: SimState, query: ReachQuery, packet: Packet): { vnet: string; inbound?: string } | { reason: string } {
  if (query.from === 'external') {
    const uplink = ifacesIn(state, HOST).find((i) => i.cloner === 'ether');
    if (!uplink) return { reason: 'the host has no uplink' };
    packet.src = parseIP(state.vnets[0]?.routes.find((r) => r.destination === 'default')?.gateway ?? '198.51.100.1') ?? undefined;
    return { vnet: HOST, inbound: uplink.name };
  }
  if (query.from === 'host') return { vnet: HOST };
  const jail = lookupJail(state, query.from, 0);
  return jail ? { vnet: contextVnet(state, jail.jid) } : { reason: `no jail ${query.from}` };
}

export function reach(state: SimState, query: ReachQuery, commit = false): ReachResult {
  const format = formatIP;
  const dst = parseIP(query.to);
  const path: string[] = [];
  if (!dst) return { delivered: false, path, reason: `bad address ${query.to}` };
  const packet: Packet = { dst, port: query.port, proto: query.proto ?? 'tcp' };
  const start = startOf(state, query, packet);
  if ('reason' in start) return { delivered: false, path, reason: start.reason };
  let { vnet, inbound } = start;
  let redirected: ReachResult['redirected'];
  for (let hop = 0; hop < 16; hop++) {
    const local = inbound === undefined;
    const filterLocal = state.vnets.find((v) => v.id === vnet)?.sysctls['net.pf.filter_local'] === '1';
    // Host-originated packets meet pf only with net.pf.filter_local=1 (13.3+/14); then the
    // rdr applies to 127.0.0.1 too, as podman's FreeBSD plugins (v0.5) rely on.
    if (!local || filterLocal) {
      const rewrote = applyRdr(state, vnet, inbound ?? 'lo0', packet, commit);
      if (rewrote) {
        path.push(rewrote);
        redirected ??= { vnet, ...(packet.original as { address: string; port: number }) };
      }
    }
    if (!local) {
      const verdict = filterVerdict(state, vnet, inbound as string, packet);
      if (!verdict.pass) return { delivered: false, path, reason: `blocked by pf in ${vnet}: ${verdict.rule}` };
    }
    const owner = addressOwner(state, vnet, packet.dst);
    if (owner) return delivered(state, vnet, owner, packet, path, redirected);
    if (!local && !forwards(state, vnet, packet.dst)) return { delivered: false, path, reason: `forwarding is off in ${vnet}` };
    const route = lookupRoute(state, vnet, packet.dst);
    if (!route || !route.iface) return { delivered: false, path, reason: `no route to ${format(packet.dst)} in ${vnet}` };
    const egress = route.iface;
    if (!egress.up) return { delivered: false, path, reason: `${egress.name} is down in ${vnet}` };
    const nextHop = route.flags.includes('G') && route.nextHop ? route.nextHop : packet.dst;
    // A locally originated packet takes its source from the interface it leaves by.
    packet.src ??= parseIP(egress.inet[0]?.address ?? '') ?? undefined;
    const { loopback, blocked } = outboundVerdict(state, vnet, egress.name, packet);
    if (blocked) return { delivered: false, path, reason: `blocked by pf in ${vnet} on the way out: ${blocked}` };
    if (loopback) {
      // pf_route: the packet leaves by lo0 instead, and lo0 hands it back as input (if_simloop).
      path.push(`${vnet}: ${loopback}`, `${vnet}: in lo0`);
      inbound = 'lo0';
      continue;
    }
    path.push(`${vnet}: out ${egress.name} to ${format(nextHop)}`);
    if (egress.cloner === 'ether' && vnet === HOST) {
      return { delivered: true, vnet: 'external', address: format(packet.dst), port: packet.port, path };
    }
    const receiver = segment(state, egress).find(
      (i) => i.id !== egress.id && i.up && (i.cloner !== 'epair' || linkActive(state, i)) && addressOwner(state, i.vnet, nextHop)?.id === i.id,
    );
    if (!receiver) return { delivered: false, path, reason: `nobody on ${egress.name}'s segment has ${format(nextHop)}` };
    vnet = receiver.vnet;
    inbound = receiver.name;
    path.push(`${vnet}: in ${receiver.name}`);
  }
  return { delivered: false, path, reason: 'too many hops' };
}

/**
 * A connection rather than a question: like reach, but the pools advance, sticky source
 * nodes are made, and a connection redirected on its way leaves a state in that vnet's pf
 * (what `pfctl -s states` lists and `pfctl -k` ends).
 */
export function connect(state: SimState, query: ReachQuery): ReachResult {
  const result = reach(state, query, true);
  const via = result.redirected;
  if (!result.delivered || !via) return result;
  const pf = state.vnets.find((v) => v.id === via.vnet)?.pf as Pf;
  const client = result.source ?? '0.0.0.0';
  const sport = 49152 + (pf.states.length % 16384);
  pf.states.push({ proto: query.proto ?? 'tcp', src: `${client}:${sport}`, dst: `${result.address}:${result.port}`, original: `${via.address}:${via.port}` });
  return result;
}
