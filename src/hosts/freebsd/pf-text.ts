// The FreeBSD driver's one renderer of jailnet's packet-filter intents into pf.conf(5)
// text, and its one parser of what pfctl(8) prints back. Nothing else in jailnet writes
// or reads pf rules.
import { familyOf } from '../../ipam/ip.js';
import { isProtocol, type IsolationPolicy, type PortForward, type PortPublication } from '../packet-filter.js';
import { POD_SUBNETS_TABLE } from '../../persistent-names.js';

const af = (address: string): 'inet' | 'inet6' => (familyOf(address) === 6 ? 'inet6' : 'inet');

/**
 * Source NAT first (nat rules), then the redirections: pfctl loads translation rules in
 * that order, and `pfctl -s nat` prints them so. `(lo0)` covers the host's own
 * connections to 127.0.0.1 (with net.pf.filter_local=1); the subnets cover the pod
 * itself and its neighbours, whose replies would otherwise skip the rdr's reverse.
 */
export function renderPublication(publication: PortPublication): string {
  const { forwards } = publication;
  const lines: string[] = [];
  const hairpin = publication.hairpin;
  if (hairpin) {
    for (const f of forwards) {
      const family = af(f.podAddress);
      const sources = ['(lo0)', ...hairpin.subnets.filter((s) => af(s) === family)];
      for (const from of sources) {
        lines.push(`nat on ${hairpin.bridge} ${family} proto ${f.protocol} from ${from} to ${f.podAddress} port ${f.podPort} -> (${hairpin.bridge})`);
      }
    }
  }
  for (const f of forwards) {
    lines.push(`rdr pass ${af(f.podAddress)} proto ${f.protocol} from any to ${f.hostIP ?? 'self'} port ${f.hostPort} -> ${f.podAddress} port ${f.podPort}`);
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/**
 * An rdr rule as pfctl -s nat prints it: `self` has become one rule per local address,
 * `port 8080` is `port = 8080` (read with -P, so ports stay numbers, never service names).
 */
const RDR_LINE = /^rdr pass (inet6?) proto (\S+) from any to (\S+) port = (\d+) -> (\S+) port (\d+)$/;

/**
 * The forwards of an anchor's `pfctl -P -s nat` lines. pfctl expands `to self` into one
 * rule per local address (at least lo0's and one other of a family), where a host
 * address names one: a forward that comes back with two or more targets was published
 * without a host address.
 */
export function parseForwards(lines: string[]): PortForward[] {
  const targets = new Map<string, { forward: PortForward; to: Set<string> }>();
  for (const line of lines) {
    const m = RDR_LINE.exec(line.trim());
    if (!m || !isProtocol(m[2] as string)) continue;
    const [, , protocol, to, hostPort, podAddress, podPort] = m as unknown as [string, string, PortForward['protocol'], string, string, string, string];
    const forward: PortForward = { protocol, hostPort: Number(hostPort), podAddress, podPort: Number(podPort) };
    const key = JSON.stringify(forward);
    const entry = targets.get(key) ?? { forward, to: new Set<string>() };
    entry.to.add(to);
    targets.set(key, entry);
  }
  return [...targets.values()].map(({ forward, to }) => (to.size === 1 ? { ...forward, hostIP: [...to][0] as string } : forward));
}

/** The isolation anchor: pods of an isolated subnet reach each other, other pods' subnets are blocked from it. */
export function renderIsolation(policy: IsolationPolicy): string {
  const isolated = [...new Set(policy.isolated)].sort();
  if (isolated.length === 0) return '';
  const every = [...new Set([...policy.podSubnets, ...isolated])].sort();
  const lines = [`table <${POD_SUBNETS_TABLE}> { ${every.join(', ')} }`];
  for (const subnet of isolated) {
    lines.push(`pass quick ${af(subnet)} from ${subnet} to ${subnet}`);
    lines.push(`block drop quick ${af(subnet)} from <${POD_SUBNETS_TABLE}> to ${subnet}`);
  }
  return `${lines.join('\n')}\n`;
}

const BLOCK_LINE = new RegExp(`^block drop quick (inet6?) from <${POD_SUBNETS_TABLE}> to (\\S+)`);

/** The isolated subnets of the isolation anchor's `pfctl -s rules` lines. */
export function parseIsolated(lines: string[]): string[] {
  return lines.map((l) => BLOCK_LINE.exec(l.trim())?.[2]).filter((s): s is string => s !== undefined);
}
