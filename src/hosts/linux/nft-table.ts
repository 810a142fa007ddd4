// The Linux driver's one renderer of jailnet's packet-filter intents: jailnet's own
// nftables table, `inet jailnet`. Each attachment's published ports are two chains
// (`dnat/<key>` for the forwards, `snat/<key>` for the hairpin and localhost source NAT), isolation
// is the `isolation` chain, masquerading is a pair of typed sets. Every change is one
// `nft -f -` transaction that also rebuilds the base chains' jumps, so a half-applied
// state never exists; no other table is ever touched, and when nothing of jailnet's is
// left the table itself goes. Reads are structural: rules come back as nft's JSON
// expressions, never as text. Pure: state in, script or data out.
import { bitLength, familyOf, networkAddress, parseIP, parsePrefix, prefixContains, type Prefix } from '../../ipam/ip.js';
import { MASQUERADE_TABLE, NFT_TABLE, POD_SUBNETS_TABLE } from '../../persistent-names.js';
import { isProtocol, type IsolationPolicy, type PortForward, type PortPublication } from '../packet-filter.js';

const T = `inet ${NFT_TABLE}`;
const ISOLATION_CHAIN = 'isolation';
const BASE_CHAINS = ['prerouting', 'output', 'postrouting', 'forward', 'masq'];

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
}

export const emptyState = (): NftState => ({ exists: false, chains: [], rules: [], sets: new Map() });

interface JsonElem {
  prefix?: { addr: string; len: number };
  range?: [string, string];
  elem?: { val: unknown };
}

function elementText(elem: unknown): string {
  if (typeof elem === 'string' || typeof elem === 'number') return String(elem);
  const e = elem as JsonElem;
  if (e.prefix) return `${e.prefix.addr}/${e.prefix.len}`;
  if (e.range) return `${e.range[0]}-${e.range[1]}`;
  if (e.elem) return elementText(e.elem.val);
  return JSON.stringify(elem);
}

/** Reads `nft -j list table inet jailnet`. */
export function parseNftTable(json: string): NftState {
  const state: NftState = { exists: true, chains: [], rules: [], sets: new Map() };
  const items = (JSON.parse(json) as { nftables: Array<Record<string, Record<string, unknown>>> }).nftables;
  for (const item of items) {
    if (item.chain) state.chains.push(item.chain.name as string);
    if (item.rule) state.rules.push({ chain: item.rule.chain as string, expr: (item.rule.expr as unknown[] | undefined) ?? [] });
    if (item.set) state.sets.set(item.set.name as string, ((item.set.elem as unknown[] | undefined) ?? []).map(elementText));
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

function setLines(list: string, entries: string[]): string[] {
  const sets = setNames(list);
  const lines: string[] = [];
  for (const [set, family] of [[sets.v4, 4], [sets.v6, 6]] as const) {
    const own = withoutCovered(entries.filter((e) => familyOf(e) === family));
    lines.push(`flush set ${T} ${set}`);
    if (own.length > 0) lines.push(`add element ${T} ${set} { ${own.join(', ')} }`);
  }
  return lines;
}

const SKELETON = [
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
  '}',
];

const payload = (address: string): 'ip' | 'ip6' => (familyOf(address) === 6 ? 'ip6' : 'ip');
const nfproto = (address: string): string => `meta nfproto ${familyOf(address) === 6 ? 'ipv6' : 'ipv4'}`;

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

/** One transaction's edits: chains given new rules (null: removed) and address lists given new entries. */
export interface TableEdits {
  chains: Map<string, string[] | null>;
  lists: Map<string, string[]>;
}

function chainsAfter(state: NftState, edits: TableEdits): Set<string> {
  const chains = new Set(state.chains);
  for (const [chain, rules] of edits.chains) {
    if (rules === null) chains.delete(chain);
    else chains.add(chain);
  }
  return chains;
}

/** Whether anything of jailnet's remains after the edits: a publication, an isolation rule, a masqueraded address. */
function anythingLeft(state: NftState, edits: TableEdits, chains: Set<string>): boolean {
  const isolation = edits.chains.get(ISOLATION_CHAIN) ?? state.rules.filter((r) => r.chain === ISOLATION_CHAIN);
  const masqueraded = edits.lists.get(MASQUERADE_TABLE) ?? setEntries(state, MASQUERADE_TABLE);
  return [...chains].some((c) => /^(dnat|snat)\//.test(c)) || isolation.length > 0 || masqueraded.length > 0;
}

/** The base chains re-pointed at the chains that remain, and the masquerade of pods' traffic to elsewhere. */
function jumpLines(chains: Set<string>): string[] {
  const lines: string[] = [];
  for (const key of publicationKeys({ ...emptyState(), chains: [...chains] })) {
    if (chains.has(dnatChain(key))) lines.push(`add rule ${T} prerouting jump ${dnatChain(key)}`, `add rule ${T} output jump ${dnatChain(key)}`);
    if (chains.has(snatChain(key))) lines.push(`add rule ${T} postrouting jump ${snatChain(key)}`);
  }
  const masq = setNames(MASQUERADE_TABLE);
  lines.push(
    `add rule ${T} forward jump ${ISOLATION_CHAIN}`,
    `add rule ${T} postrouting jump masq`,
    // Pods' traffic leaving for elsewhere goes out with the host's address.
    `add rule ${T} masq ip saddr @${masq.v4} ip daddr != @${masq.v4} ip daddr != 224.0.0.0/4 masquerade`,
    `add rule ${T} masq ip6 saddr @${masq.v6} ip6 daddr != @${masq.v6} ip6 daddr != ff00::/8 masquerade`,
  );
  return lines;
}

/** No change at all: the transaction is empty. */
export const NO_EDITS: TableEdits = { chains: new Map(), lists: new Map() };

/** The whole transaction for the edits; or the table's removal once nothing of jailnet's is left; '' when nothing changes. */
export function transaction(state: NftState, edits: TableEdits): string {
  if (edits.chains.size === 0 && edits.lists.size === 0) return '';
  const chains = chainsAfter(state, edits);
  if (!anythingLeft(state, edits, chains)) return state.exists ? `delete table ${T}\n` : '';
  const body: string[] = [];
  const removals: string[] = [];
  for (const [chain, rules] of edits.chains) {
    if (rules === null) {
      if (state.chains.includes(chain)) removals.push(`flush chain ${T} ${chain}`, `delete chain ${T} ${chain}`);
      continue;
    }
    body.push(`add chain ${T} ${chain}`, `flush chain ${T} ${chain}`, ...rules.map((rule) => `add rule ${T} ${chain} ${rule}`));
  }
  for (const [list, entries] of edits.lists) body.push(...setLines(list, entries));
  // Base chains are flushed before anything they jump to is deleted, and re-pointed last.
  const flushes = BASE_CHAINS.map((c) => `flush chain ${T} ${c}`);
  return `${[...SKELETON, ...flushes, ...body, ...removals, ...jumpLines(chains)].join('\n')}\n`;
}

export function publishEdits(key: string, publication: PortPublication): TableEdits {
  const dnat = dnatRules(publication.forwards);
  const snat = snatRules(publication);
  return {
    chains: new Map([
      [dnatChain(key), dnat.length > 0 ? dnat : null],
      [snatChain(key), snat.length > 0 ? snat : null],
    ]),
    lists: new Map(),
  };
}

export function unpublishEdits(key: string): TableEdits {
  return { chains: new Map([[dnatChain(key), null], [snatChain(key), null]]), lists: new Map() };
}

export function isolationEdits(policy: IsolationPolicy): TableEdits {
  const rules = isolationRules(policy);
  return {
    chains: new Map([[ISOLATION_CHAIN, rules]]),
    lists: new Map([[POD_SUBNETS_TABLE, rules.length > 0 ? [...new Set([...policy.podSubnets, ...policy.isolated])] : []]]),
  };
}

export function masqueradeEdits(state: NftState, add: string[], remove: string[]): TableEdits {
  const entries = [...new Set([...setEntries(state, MASQUERADE_TABLE), ...add])].filter((a) => !remove.includes(a));
  return { chains: new Map(), lists: new Map([[MASQUERADE_TABLE, entries]]) };
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
