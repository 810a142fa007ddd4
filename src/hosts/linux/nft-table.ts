// The Linux driver's one renderer of jailnet's packet-filter intents: jailnet's own
// nftables table, `inet jailnet`. Each attachment's published ports are two chains
// (`dnat/<key>` for the forwards, `snat/<key>` for the hairpin and localhost source NAT),
// reached through verdict maps keyed by what a packet carries (protocol and port, with the
// host or pod address where one applies), so a publication is added and removed by its own
// elements and chains: no change reads or rewrites another pod's (issue 12). Isolation is
// the `isolation` chain, masquerading a pair of typed sets changed element by element.
// Every change is one `nft -f -` transaction, which also declares the table and resets the
// base chains' few fixed rules wherever the table may be missing, so a half-applied state
// never exists; no other table is ever touched. Reads are structural: rules come back as
// nft's JSON expressions, never as text (one exception: the base chains listed at the end of
// a transaction, whose rules are only counted, as `nft -j -f` runs no script). Pure: state
// in, script or data out.
import { bitLength, familyOf, networkAddress, parseIP, parsePrefix, prefixContains, type Prefix } from '../../ipam/ip.js';
import { MASQUERADE_TABLE, NFT_TABLE, POD_SUBNETS_TABLE } from '../../persistent-names.js';
import { isProtocol, type IsolationPolicy, type PortForward, type PortPublication } from '../packet-filter.js';

const T = `inet ${NFT_TABLE}`;
export const ISOLATION_CHAIN = 'isolation';
const BASE_CHAINS = ['prerouting', 'output', 'postrouting', 'forward', 'masq'];

/**
 * The verdict maps: forwards without a host address by protocol and host port, forwards
 * to one host address by that address too, and the hairpin source NAT by the pod's
 * address, protocol and port (after DNAT, what postrouting sees).
 */
const MAPS = {
  published: 'published',
  publishedV4: 'published-v4',
  publishedV6: 'published-v6',
  hairpinV4: 'hairpin-v4',
  hairpinV6: 'hairpin-v6',
} as const;
type MapName = (typeof MAPS)[keyof typeof MAPS];

export interface NftRule {
  chain: string;
  /** The rule's statements as `nft -j` prints them. */
  expr: unknown[];
}

export interface NftState {
  exists: boolean;
  chains: string[];
  rules: NftRule[];
  sets: Map<string, string[]>;
  /** Each verdict map's elements: the key as nft writes it, and the chain it jumps to. */
  maps: Map<string, Array<{ key: string; target?: string }>>;
}

/** A map's elements by map: the keys, as nft writes them. */
export type ElementsByMap = Map<MapName, string[]>;

/** What a transaction does with elements (`delete` fails unless each one is there). */
export type ElementVerb = 'add' | 'delete';

export const emptyState = (): NftState => ({ exists: false, chains: [], rules: [], sets: new Map(), maps: new Map() });

interface JsonElem {
  prefix?: { addr: string; len: number };
  range?: [string, string];
  elem?: { val: unknown };
  concat?: unknown[];
}

function elementText(elem: unknown): string {
  if (typeof elem === 'string' || typeof elem === 'number') return String(elem);
  const e = elem as JsonElem;
  if (e.concat) return e.concat.map(elementText).join(' . ');
  if (e.prefix) return `${e.prefix.addr}/${e.prefix.len}`;
  if (e.range) return `${e.range[0]}-${e.range[1]}`;
  if (e.elem) return elementText(e.elem.val);
  return JSON.stringify(elem);
}

/** Reads `nft -j list table inet jailnet`, or the same of one chain (`list chain`). */
export function parseNftTable(json: string): NftState {
  const state: NftState = { exists: true, chains: [], rules: [], sets: new Map(), maps: new Map() };
  const items = (JSON.parse(json) as { nftables: Array<Record<string, Record<string, unknown>>> }).nftables;
  for (const item of items) {
    if (item.chain) state.chains.push(item.chain.name as string);
    if (item.rule) state.rules.push({ chain: item.rule.chain as string, expr: (item.rule.expr as unknown[] | undefined) ?? [] });
    if (item.set) state.sets.set(item.set.name as string, ((item.set.elem as unknown[] | undefined) ?? []).map(elementText));
    if (item.map) state.maps.set(item.map.name as string, ((item.map.elem as Array<[unknown, { jump?: { target: string } }]> | undefined) ?? []).map(([key, verdict]) => ({ key: elementText(key), target: verdict?.jump?.target })));
  }
  return state;
}

/** The two typed sets that hold one address list. */
export function setNames(list: string): { v4: string; v6: string } {
  return { v4: `${list}-v4`, v6: `${list}-v6` };
}

export const dnatChain = (key: string): string => `dnat/${key}`;
export const snatChain = (key: string): string => `snat/${key}`;

/** The publication keys that have chains, in a stable order. */
export function publicationKeys(state: NftState): string[] {
  return [...new Set(state.chains.map((c) => /^(?:dnat|snat)\/(.+)$/.exec(c)?.[1]).filter((k): k is string => k !== undefined))].sort();
}

function asPrefix(entry: string): Prefix | null {
  if (entry.includes('/')) return parsePrefix(entry);
  const address = parseIP(entry);
  return address ? { ip: address, bits: bitLength(address.family) } : null;
}

/**
 * An interval set refuses overlapping elements where a pf table takes them; an entry
 * inside a broader one adds nothing, so it is left out. Without auto-merge, the set
 * keeps every address as it was added, so a read lists what was put there.
 */
export function withoutCovered(entries: string[]): string[] {
  const unique = [...new Set(entries)];
  return unique.filter((entry) => {
    const own = asPrefix(entry);
    if (!own) return true;
    return !unique.some((other) => {
      const wider = other !== entry ? asPrefix(other) : null;
      return wider !== null && wider.bits < own.bits && prefixContains(wider, networkAddress(own));
    });
  });
}

function setEntries(state: NftState, list: string): string[] {
  const sets = setNames(list);
  return [...(state.sets.get(sets.v4) ?? []), ...(state.sets.get(sets.v6) ?? [])];
}

/** Element lines of one address list, one per family that has entries: `add element` or `delete element`. */
export function elementLines(verb: ElementVerb, list: string, entries: string[]): string[] {
  const sets = setNames(list);
  const lines: string[] = [];
  for (const [set, family] of [[sets.v4, 4], [sets.v6, 6]] as const) {
    const own = entries.filter((e) => familyOf(e) === family);
    if (own.length > 0) lines.push(`${verb} element ${T} ${set} { ${own.join(', ')} }`);
  }
  return lines;
}

const payload = (address: string): 'ip' | 'ip6' => (familyOf(address) === 6 ? 'ip6' : 'ip');
const nfproto = (address: string): string => `meta nfproto ${familyOf(address) === 6 ? 'ipv6' : 'ipv4'}`;

/**
 * The table, its sets and maps, and the base chains' fixed rules: declared (nft's `table`
 * block adds what is missing and changes nothing that is there) and the base chains reset,
 * so a transaction that begins with them leaves the table whole, whatever was there before
 * (transaction() puts them first wherever the table may be missing).
 */
function skeletonLines(): string[] {
  const masq = setNames(MASQUERADE_TABLE);
  const lookups = (chain: string, maps: Array<[string, MapName]>) => maps.map(([key, map]) => `add rule ${T} ${chain} ${key} vmap @${map}`);
  const published: Array<[string, MapName]> = [
    ['meta l4proto . th dport', MAPS.published],
    ['ip daddr . meta l4proto . th dport', MAPS.publishedV4],
    ['ip6 daddr . meta l4proto . th dport', MAPS.publishedV6],
  ];
  return [
    `table ${T} {`,
    '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }',
    '  chain output { type nat hook output priority -100; policy accept; }',
    '  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }',
    '  chain forward { type filter hook forward priority filter; policy accept; }',
    '  chain masq { }',
    `  chain ${ISOLATION_CHAIN} { }`,
    ...[MASQUERADE_TABLE, POD_SUBNETS_TABLE].flatMap((list) => [
      `  set ${setNames(list).v4} { type ipv4_addr; flags interval; }`,
      `  set ${setNames(list).v6} { type ipv6_addr; flags interval; }`,
    ]),
    `  map ${MAPS.published} { type inet_proto . inet_service : verdict; }`,
    `  map ${MAPS.publishedV4} { type ipv4_addr . inet_proto . inet_service : verdict; }`,
    `  map ${MAPS.publishedV6} { type ipv6_addr . inet_proto . inet_service : verdict; }`,
    `  map ${MAPS.hairpinV4} { type ipv4_addr . inet_proto . inet_service : verdict; }`,
    `  map ${MAPS.hairpinV6} { type ipv6_addr . inet_proto . inet_service : verdict; }`,
    '}',
    ...BASE_CHAINS.map((c) => `flush chain ${T} ${c}`),
    ...lookups('prerouting', published),
    ...lookups('output', published),
    ...lookups('postrouting', [['ip daddr . meta l4proto . th dport', MAPS.hairpinV4], ['ip6 daddr . meta l4proto . th dport', MAPS.hairpinV6]]),
    `add rule ${T} postrouting jump masq`,
    `add rule ${T} forward jump ${ISOLATION_CHAIN}`,
    // Pods' traffic leaving for elsewhere goes out with the host's address.
    `add rule ${T} masq ip saddr @${masq.v4} ip daddr != @${masq.v4} ip daddr != 224.0.0.0/4 masquerade`,
    `add rule ${T} masq ip6 saddr @${masq.v6} ip6 daddr != @${masq.v6} ip6 daddr != ff00::/8 masquerade`,
  ];
}

/** How many fixed rules each base chain holds (skeletonLines). */
function baseRuleCounts(): Map<string, number> {
  const wanted = new Map<string, number>();
  for (const line of skeletonLines()) {
    const chain = new RegExp(`^add rule ${T} (\\S+) `).exec(line)?.[1];
    if (chain) wanted.set(chain, (wanted.get(chain) ?? 0) + 1);
  }
  return wanted;
}

/**
 * Whether the base chains hold their fixed rules (an `nft flush table` takes every rule
 * and leaves chains, sets and maps). A table that is not there has nothing to lack.
 */
export function baseIntact(state: NftState): boolean {
  if (!state.exists) return true;
  return [...baseRuleCounts()].every(([chain, count]) => state.rules.filter((r) => r.chain === chain).length === count);
}

/**
 * `list chain` of the first base chain, put after the changes of a transaction that does not
 * declare the table: its output (baseIntactInListing) says whether an `nft flush table` (a
 * firewall reload) took the base rules, which jailnet's count and memory of the table cannot
 * know, at no command of its own. One chain: nft 1.0.6 fails a script that lists two.
 */
export const BASE_LISTING = `list chain ${T} ${BASE_CHAINS[0]}`;

/** Whether nft's text listing of base chains (BASE_LISTING's output) shows each listed one with its fixed rules (lines in its block other than its type and policy). */
export function baseIntactInListing(text: string): boolean {
  const counts = new Map<string, number>();
  let chain: string | undefined;
  for (const line of text.split('\n').map((l) => l.trim())) {
    const opened = /^chain (\S+) \{$/.exec(line);
    if (opened) counts.set((chain = opened[1] as string), 0);
    else if (line === '}') chain = undefined;
    else if (chain !== undefined && line !== '' && !/^(type \S+ hook |policy )/.test(line)) counts.set(chain, (counts.get(chain) ?? 0) + 1);
  }
  const wanted = baseRuleCounts();
  return counts.size > 0 && [...counts].every(([c, count]) => wanted.get(c) === count);
}

/** The elements of jailnet's maps that lead to `key`'s chains: what a publication whose chains were flushed still holds. */
export function elementsLeadingTo(state: NftState, key: string): ElementsByMap {
  const targets = new Set([dnatChain(key), snatChain(key)]);
  const found: ElementsByMap = new Map();
  for (const map of Object.values(MAPS)) {
    const keys = (state.maps.get(map) ?? []).filter((e) => e.target !== undefined && targets.has(e.target)).map((e) => e.key);
    if (keys.length > 0) found.set(map, keys);
  }
  return found;
}

/** DNAT for each forward; `fib daddr type local` is pf's `self`: any of the host's own addresses. */
export function dnatRules(forwards: PortForward[]): string[] {
  return forwards.map((f) => {
    const to = f.hostIP ? `${payload(f.hostIP)} daddr ${f.hostIP}` : 'fib daddr type local';
    const target = familyOf(f.podAddress) === 6 ? `[${f.podAddress}]:${f.podPort}` : `${f.podAddress}:${f.podPort}`;
    return `${nfproto(f.podAddress)} ${to} ${f.protocol} dport ${f.hostPort} dnat ${payload(f.podAddress)} to ${target}`;
  });
}

/** Source NAT on the bridge for the host's loopback and the hairpin subnets, so their replies come back through the DNAT. */
export function snatRules(publication: PortPublication): string[] {
  const hairpin = publication.hairpin;
  if (!hairpin) return [];
  const rules: string[] = [];
  for (const f of publication.forwards) {
    const loopback = familyOf(f.podAddress) === 6 ? '::1' : '127.0.0.0/8';
    for (const from of [loopback, ...hairpin.subnets.filter((s) => familyOf(s) === familyOf(f.podAddress))]) {
      rules.push(`oifname "${hairpin.bridge}" ${nfproto(f.podAddress)} ${payload(f.podAddress)} saddr ${from} ${payload(f.podAddress)} daddr ${f.podAddress} ${f.protocol} dport ${f.podPort} masquerade`);
    }
  }
  return rules;
}

/** Pods of an isolated subnet reach each other; the rest of jailnet's pods are dropped on their way to it. */
export function isolationRules(policy: IsolationPolicy): string[] {
  const pods = setNames(POD_SUBNETS_TABLE);
  return [...new Set(policy.isolated)].sort().flatMap((subnet) => {
    const p = payload(subnet);
    return [
      `${nfproto(subnet)} ${p} saddr ${subnet} ${p} daddr ${subnet} accept`,
      `${nfproto(subnet)} ${p} saddr @${p === 'ip6' ? pods.v6 : pods.v4} ${p} daddr ${subnet} drop`,
    ];
  });
}

/** The map elements that lead to a publication's chains, by map, each key once. */
export function publicationElements(forwards: PortForward[], hairpin: boolean): Map<MapName, string[]> {
  const elements = new Map<MapName, Set<string>>();
  const put = (map: MapName, key: string) => elements.set(map, (elements.get(map) ?? new Set()).add(key));
  for (const f of forwards) {
    if (!f.hostIP) put(MAPS.published, `${f.protocol} . ${f.hostPort}`);
    else put(familyOf(f.hostIP) === 6 ? MAPS.publishedV6 : MAPS.publishedV4, `${f.hostIP} . ${f.protocol} . ${f.hostPort}`);
    if (hairpin) put(familyOf(f.podAddress) === 6 ? MAPS.hairpinV6 : MAPS.hairpinV4, `${f.podAddress} . ${f.protocol} . ${f.podPort}`);
  }
  return new Map([...elements].map(([map, keys]) => [map, [...keys]]));
}

const chainOfMap = (map: MapName, key: string): string => (map === MAPS.hairpinV4 || map === MAPS.hairpinV6 ? snatChain(key) : dnatChain(key));

/**
 * One transaction of these changes. With `declare`, the table is declared and its base
 * chains reset first, so it holds wherever the table is missing or was changed by hand;
 * without, the changes alone, for a table known to be there: nft then spares the kernel
 * the declaration's set updates, whose commit waits for an RCU grace period (~12 ms here).
 */
export function transaction(changes: string[], declare = true): string {
  return `${[...(declare ? skeletonLines() : []), ...changes].join('\n')}\n`;
}

const elementsLine = (map: MapName, keys: string[], key: string): string =>
  `add element ${T} ${map} { ${keys.map((k) => `${k} : jump ${chainOfMap(map, key)}`).join(', ')} }`;

/**
 * The changes that make `key`'s publication what `publication` says (null: none), given
 * the forwards it has now (read from its own DNAT chain; undefined: it has none;
 * `unread`: taken to have none, its chains created, which fails where they are there) or,
 * where a flush emptied its chains, the map elements that still lead to them.
 * Old elements are removed by adding them first (a no-op where they are) and deleting
 * them, so a removal never fails on an element a crash left out; a chain is emptied and
 * refilled, or deleted once no element leads to it.
 */
export function publicationChanges(key: string, previous: PortForward[] | ElementsByMap | undefined | 'unread', publication: PortPublication | null): string[] {
  const lines: string[] = [];
  const had = previous !== undefined && previous !== 'unread';
  if (had) {
    lines.push(`add chain ${T} ${dnatChain(key)}`, `add chain ${T} ${snatChain(key)}`);
    for (const [map, keys] of Array.isArray(previous) ? publicationElements(previous, true) : previous) {
      for (const element of keys) lines.push(`${elementsLine(map, [element], key)}`, `delete element ${T} ${map} { ${element} }`);
    }
  }
  const snat = publication ? snatRules(publication) : [];
  const chains: Array<[string, string[]]> = [[dnatChain(key), publication ? dnatRules(publication.forwards) : []], [snatChain(key), snat]];
  for (const [chain, rules] of chains) {
    const made = previous === 'unread' ? [`create chain ${T} ${chain}`] : [`add chain ${T} ${chain}`, `flush chain ${T} ${chain}`];
    if (rules.length > 0) lines.push(...made, ...rules.map((rule) => `add rule ${T} ${chain} ${rule}`));
    else if (had) lines.push(`flush chain ${T} ${chain}`, `delete chain ${T} ${chain}`);
  }
  if (publication) {
    for (const [map, keys] of publicationElements(publication.forwards, snat.length > 0)) lines.push(elementsLine(map, keys, key));
  }
  return lines;
}

/** The isolation chain and the pod subnets it drops from, replaced whole (one entry per network, not per pod). */
export function isolationChanges(policy: IsolationPolicy): string[] {
  const rules = isolationRules(policy);
  const subnets = rules.length > 0 ? withoutCovered([...policy.podSubnets, ...policy.isolated]) : [];
  const pods = setNames(POD_SUBNETS_TABLE);
  return [
    `flush chain ${T} ${ISOLATION_CHAIN}`,
    ...rules.map((rule) => `add rule ${T} ${ISOLATION_CHAIN} ${rule}`),
    `flush set ${T} ${pods.v4}`,
    `flush set ${T} ${pods.v6}`,
    ...elementLines('add', POD_SUBNETS_TABLE, subnets),
  ];
}

/** Masqueraded addresses added or removed: elements only, the rest of the set untouched. */
export function masqueradeChanges(verb: ElementVerb, addresses: string[]): string[] {
  return elementLines(verb, MASQUERADE_TABLE, addresses);
}

export const DELETE_TABLE = `delete table ${T}\n`;

/**
 * A table made by an earlier jailnet (the base chains jumping to each publication, no
 * maps) brought to this layout: the elements of its publications, for the first
 * transaction after a whole read. Adding an element that is there changes nothing.
 */
export function migrationChanges(state: NftState): string[] {
  return publicationKeys(state).flatMap((key) =>
    [...publicationElements(forwardsOf(state, key), state.chains.includes(snatChain(key)))].map(([map, keys]) => elementsLine(map, keys, key)),
  );
}

/** What keeps the table: its publications, its masqueraded addresses, and an isolation policy (one). */
export function ownersOf(state: NftState): number {
  return publicationKeys(state).length + setEntries(state, MASQUERADE_TABLE).length + (state.rules.some((r) => r.chain === ISOLATION_CHAIN) ? 1 : 0);
}

// Structural reads of nft's JSON expressions.

type Expr = Record<string, Record<string, unknown>>;

interface PayloadMatch {
  protocol: string;
  field: string;
  /** The right-hand side as text (a prefix reads as A/L). */
  value: string;
}

/** The rule's `==` matches on packet fields, in order. */
function payloadMatches(expr: Expr[]): PayloadMatch[] {
  const found: PayloadMatch[] = [];
  for (const statement of expr) {
    const match = statement.match as { op?: string; left?: { payload?: { protocol: string; field: string } }; right?: unknown } | undefined;
    const p = match?.left?.payload;
    if (match && (match.op ?? '==') === '==' && p) found.push({ protocol: p.protocol, field: p.field, value: elementText(match.right) });
  }
  return found;
}

const isAddressMatch = (m: PayloadMatch, field: string): boolean => (m.protocol === 'ip' || m.protocol === 'ip6') && m.field === field;

function forwardOf(expr: Expr[]): PortForward | undefined {
  const dnat = expr.find((s) => s.dnat)?.dnat as { addr?: unknown; port?: unknown } | undefined;
  const matches = payloadMatches(expr);
  const port = matches.find((m) => m.field === 'dport' && isProtocol(m.protocol));
  if (!dnat || !port || !isProtocol(port.protocol) || typeof dnat.addr !== 'string') return undefined;
  const hostIP = matches.find((m) => isAddressMatch(m, 'daddr'))?.value;
  return { protocol: port.protocol, hostPort: Number(port.value), podAddress: dnat.addr, podPort: Number(dnat.port), ...(hostIP ? { hostIP } : {}) };
}

/** The forwards a publication's DNAT chain holds. */
export function forwardsOf(state: NftState, key: string): PortForward[] {
  return state.rules
    .filter((r) => r.chain === dnatChain(key))
    .map((r) => forwardOf(r.expr as Expr[]))
    .filter((f): f is PortForward => f !== undefined);
}

/** The subnets the isolation chain drops other pods on their way to. */
export function isolatedOf(state: NftState): string[] {
  return state.rules
    .filter((r) => r.chain === ISOLATION_CHAIN && (r.expr as Expr[]).some((s) => 'drop' in s))
    .map((r) => payloadMatches(r.expr as Expr[]).find((m) => isAddressMatch(m, 'daddr'))?.value)
    .filter((s): s is string => s !== undefined);
}

export function masqueradedOf(state: NftState): string[] {
  return setEntries(state, MASQUERADE_TABLE);
}
