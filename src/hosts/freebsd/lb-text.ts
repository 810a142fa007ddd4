// A pod's load balancer on FreeBSD as pf text for the pod's own vnet. pf translates with
// rdr only what comes in on an interface, and the connections to balance are the pod's
// own, going out: so a pass rule sends those to a VIP out by lo0 (`route-to lo0`), lo0
// hands them back as input, and an rdr on lo0 picks the real server; forwarding in the
// vnet lets the redirected packet leave again, with the pod's own address as its source,
// so replies come back through the state (the recipe pf users know for a local
// transparent proxy). Each service is one rdr to a round-robin pool of its real servers
// and one route-to rule. What FreeBSD 14's pf offers decides what is taken:
//   rr   the pool in order (pf_lb.c pf_map_addr, PF_POOL_ROUNDROBIN)
//   wrr  the same pool with each server listed as often as its weight (after dividing
//        the weights by their gcd): parse.y's redir_host_list keeps repeated hosts
//   -p   sticky-address, with `set timeout src.track` — one value per vnet
//   sh   refused: parse.y takes source-hash only for a single redirection address
// and a pool sends every server the same port (`-> { … } port N`). Pure: rules in, text out.
import { BalancerError, servicesGone, withDefaults, type BalancerRules, type RealServer, type Timeouts, type VirtualService } from '../../balancer/rules.js';
import { BALANCER_ANCHOR } from '../../persistent-names.js';

export const FREEBSD_SCHEDULERS = ['rr', 'wrr'] as const;

/** A repeated-address pool longer than this is refused: pf walks the list per connection. */
export const MAX_POOL_ENTRIES = 64;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

const usable = (service: VirtualService): RealServer[] => service.servers.filter((r) => r.weight > 0);

/** The pool's entries in order: each server once (rr) or as often as its reduced weight (wrr). */
export function poolEntries(service: VirtualService): string[] {
  const servers = usable(service);
  if (service.scheduler === 'rr') return servers.map((r) => r.address);
  const divisor = servers.reduce((g, r) => gcd(g, r.weight), 0) || 1;
  return servers.flatMap((r) => Array.from({ length: r.weight / divisor }, () => r.address));
}

/** What pf cannot express, refused before any change with the reason. */
export function checkPfRules(rules: BalancerRules): void {
  const persistence = new Set(rules.services.map((s) => s.persistence).filter((p) => p !== undefined));
  if (persistence.size > 1) {
    throw new BalancerError(`persistence on FreeBSD is one timeout per pod (pf's src.track): the services here ask for ${[...persistence].join(' and ')} s`);
  }
  for (const service of rules.services) {
    const ports = new Set(usable(service).map((r) => r.port));
    if (ports.size > 1) throw new BalancerError(`the real servers of ${service.address}:${service.port} listen on different ports; a pf pool sends every server the same port`);
    if (poolEntries(service).length > MAX_POOL_ENTRIES) {
      throw new BalancerError(`the weights of ${service.address}:${service.port} make a pf pool of ${poolEntries(service).length} entries (at most ${MAX_POOL_ENTRIES}): use smaller weights`);
    }
  }
}

const match = (s: VirtualService) => `inet proto ${s.protocol} from any to ${s.address} port ${s.port}`;

function rdrRule(service: VirtualService): string {
  const entries = poolEntries(service);
  const port = (usable(service)[0] as RealServer).port;
  const pool = entries.length === 1 ? (entries[0] as string) : `{ ${entries.join(', ')} }`;
  const options = [...(entries.length > 1 ? ['round-robin'] : []), ...(service.persistence ? ['sticky-address'] : [])];
  return `rdr pass on lo0 ${match(service)} -> ${pool} port ${port}${options.map((o) => ` ${o}`).join('')}`;
}

/**
 * The anchor: the rdr rules, then the route-to rules (translation before filtering, as
 * pfctl requires). A service without a usable server gets a `block return` instead, so a
 * connection is refused at once, as IPVS refuses it.
 */
export function lbAnchorText(rules: BalancerRules): string {
  const served = rules.services.filter((s) => usable(s).length > 0);
  const unserved = rules.services.filter((s) => usable(s).length === 0);
  const lines = [
    ...served.map(rdrRule),
    ...served.map((s) => `pass out quick on ! lo0 route-to lo0 ${match(s)}`),
    ...unserved.map((s) => `block return out quick ${match(s)}`),
  ];
  return lines.map((l) => `${l}\n`).join('');
}

/** pf's own defaults (pf.conf(5), "set timeout"): what `--set` has not changed. */
export const PF_DEFAULT_TIMEOUTS: Timeouts = { tcp: 86400, tcpfin: 45, udp: 60 };

/**
 * The pod vnet's main ruleset: the timeouts (`--set`, with pf's defaults for a 0), the
 * source-tracking timeout of persistence, and the hook for the anchor.
 */
export function lbMainRuleset(rules: BalancerRules): string {
  const lines: string[] = [];
  const t = rules.timeouts;
  if (t) {
    const v = withDefaults(t, PF_DEFAULT_TIMEOUTS);
    lines.push(`set timeout { tcp.established ${v.tcp}, tcp.finwait ${v.tcpfin}, udp.multiple ${v.udp} }`);
  }
  const persistence = rules.services.find((s) => s.persistence)?.persistence;
  if (persistence) lines.push(`set timeout src.track ${persistence}`);
  lines.push(`rdr-anchor "${BALANCER_ANCHOR}"`, `anchor "${BALANCER_ANCHOR}"`);
  return `${lines.join('\n')}\n`;
}

/** What a pod vnet's pf shows of the balancer: whether pf is on, the main ruleset's and the anchor's translation lines. */
export interface PfBalancerView {
  enabled: boolean;
  mainNat: string[];
  anchorNat: string[];
}

/**
 * What of `rules` the pod's pf lacks: pf on, the anchor's hook in the main ruleset, and an
 * rdr for each served service with its servers. pfctl prints a rule in its own words
 * (`port = 80`, pfctl_parser.c print_rule), so a rule is matched by its parts, not its text. Pure.
 */
export function pfBalancerDrift(view: PfBalancerView, rules: BalancerRules): string | undefined {
  const served = rules.services.filter((s) => usable(s).length > 0);
  if (served.length === 0 && !rules.timeouts) return undefined;
  if (!view.enabled) return "pf is disabled in the pod's vnet, so its load balancer does nothing";
  if (!view.mainNat.some((l) => l.startsWith(`rdr-anchor "${BALANCER_ANCHOR}"`))) return `the hook of the load balancer's anchor ${BALANCER_ANCHOR} is gone from the pod's pf`;
  const holds = (s: VirtualService) =>
    view.anchorNat.some((line) => {
      const [rule = '', pool = ''] = line.split(' -> ');
      return rule.startsWith('rdr ') && rule.includes(` proto ${s.protocol} `) && rule.endsWith(`to ${s.address} port = ${s.port}`) && usable(s).every((r) => pool.includes(r.address));
    });
  const missing = served.filter((s) => !holds(s));
  return missing.length === 0 ? undefined : servicesGone(missing, ` from the anchor ${BALANCER_ANCHOR}`);
}
