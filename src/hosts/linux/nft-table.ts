// jailnet's own nftables table, `inet jailnet`, which stands in for pf on Linux. pf
// anchors become chains (`rdr/<anchor>`, `nat/<anchor>`, `filter/<anchor>`) jumped to
// from four base chains; pf tables become typed sets. Every change is one `nft -f -`
// transaction that also rebuilds the base chains' jumps, so a half-applied state never
// exists. No other table is ever touched. When nothing of jailnet's is left, the table
// itself goes. Pure: state in, script out.
import { bitLength, networkAddress, parseIP, parsePrefix, prefixContains, type Prefix } from '../../ipam/ip.js';
import { setNames, type RuleHook, type TranslatedAnchor } from './pf-rules.js';

export const NFT_TABLE = 'jailnet';
const T = `inet ${NFT_TABLE}`;
export const NAT_TABLE_NAME = 'cni-nat';
const HOOKS: RuleHook[] = ['rdr', 'nat', 'filter'];

export interface NftRule {
  chain: string;
  comment: string;
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
  if (typeof elem === 'string') return elem;
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
    if (item.rule) state.rules.push({ chain: item.rule.chain as string, comment: (item.rule.comment as string | undefined) ?? '' });
    if (item.set) state.sets.set(item.set.name as string, ((item.set.elem as unknown[] | undefined) ?? []).map(elementText));
  }
  return state;
}

export const chainOf = (hook: RuleHook, anchor: string): string => `${hook}/${anchor}`;

/** The anchors that have chains, in a stable order. */
export function anchorsOf(state: NftState): string[] {
  const anchors = new Set<string>();
  for (const chain of state.chains) {
    const m = /^(rdr|nat|filter)\/(.+)$/.exec(chain);
    if (m) anchors.add(m[2] as string);
  }
  return [...anchors].sort();
}

/** pf lines of an anchor, as pfctl -s nat (nat then rdr) or -s rules shows them. */
export function anchorLines(state: NftState, anchor: string, what: 'nat' | 'rules'): string[] {
  const chains = what === 'nat' ? [chainOf('nat', anchor), chainOf('rdr', anchor)] : [chainOf('filter', anchor)];
  return chains.flatMap((chain) => state.rules.filter((r) => r.chain === chain).map((r) => r.comment));
}

const SKELETON = [
  `table ${T} {`,
  '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }',
  '  chain output { type nat hook output priority -100; policy accept; }',
  '  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }',
  '  chain forward { type filter hook forward priority filter; policy accept; }',
  '  chain masq { }',
  `  set ${setNames(NAT_TABLE_NAME).v4} { type ipv4_addr; flags interval; }`,
  `  set ${setNames(NAT_TABLE_NAME).v6} { type ipv6_addr; flags interval; }`,
  '}',
];

function asPrefix(entry: string): Prefix | null {
  if (entry.includes('/')) return parsePrefix(entry);
  const address = parseIP(entry);
  return address ? { ip: address, bits: bitLength(address.family) } : null;
}

/**
 * An interval set refuses overlapping elements where a pf table takes them; an entry
 * inside a broader one adds nothing, so it is left out. Without auto-merge, the set
 * keeps every address as it was added, so `tableShow` lists what `tableAdd` put there.
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

function setLines(name: string, entries: string[]): string[] {
  const sets = setNames(name);
  const lines: string[] = [];
  for (const [set, type, family] of [[sets.v4, 'ipv4_addr', 4], [sets.v6, 'ipv6_addr', 6]] as const) {
    const own = withoutCovered(entries.filter((e) => (e.includes(':') ? 6 : 4) === family));
    lines.push(`add set ${T} ${set} { type ${type}; flags interval; }`, `flush set ${T} ${set}`);
    if (own.length > 0) lines.push(`add element ${T} ${set} { ${own.join(', ')} }`);
  }
  return lines;
}

/** The transaction's tail: base chains re-pointed at the anchors that remain, and the masquerade for <cni-nat>. */
function baseLines(anchors: Map<string, Set<RuleHook>>): string[] {
  const lines = ['prerouting', 'output', 'postrouting', 'forward', 'masq'].map((c) => `flush chain ${T} ${c}`);
  const nat = setNames(NAT_TABLE_NAME);
  for (const [anchor, hooks] of [...anchors].sort(([a], [b]) => a.localeCompare(b))) {
    if (hooks.has('rdr')) lines.push(`add rule ${T} prerouting jump ${chainOf('rdr', anchor)}`, `add rule ${T} output jump ${chainOf('rdr', anchor)}`);
    if (hooks.has('nat')) lines.push(`add rule ${T} postrouting jump ${chainOf('nat', anchor)}`);
    if (hooks.has('filter')) lines.push(`add rule ${T} forward jump ${chainOf('filter', anchor)}`);
  }
  lines.push(
    `add rule ${T} postrouting jump masq`,
    // pf.conf's `nat on $ext_if from <cni-nat> to any`: pods' traffic leaving for elsewhere.
    `add rule ${T} masq ip saddr @${nat.v4} ip daddr != @${nat.v4} ip daddr != 224.0.0.0/4 masquerade`,
    `add rule ${T} masq ip6 saddr @${nat.v6} ip6 daddr != @${nat.v6} ip6 daddr != ff00::/8 masquerade`,
  );
  return lines;
}

function hooksByAnchor(state: NftState): Map<string, Set<RuleHook>> {
  const map = new Map<string, Set<RuleHook>>();
  for (const chain of state.chains) {
    const m = /^(rdr|nat|filter)\/(.+)$/.exec(chain);
    if (!m) continue;
    const anchor = m[2] as string;
    if (!map.has(anchor)) map.set(anchor, new Set());
    map.get(anchor)?.add(m[1] as RuleHook);
  }
  return map;
}

function scopeOf(anchor: string): string {
  return `${anchor}/`;
}

function anchorSets(state: NftState, anchor: string): string[] {
  return [...state.sets.keys()].filter((s) => s.startsWith(scopeOf(anchor)));
}

const quote = (comment: string): string => `"${comment.slice(0, 127)}"`;

/** Entries of the top-level tables (<cni-nat>): anchor tables go with their anchors. */
function topLevelEntries(sets: Map<string, string[]>): number {
  return [...sets].filter(([name]) => !name.includes('/')).reduce((n, [, entries]) => n + entries.length, 0);
}

/** Loads an anchor's translated rules, replacing what it had. */
export function loadAnchorScript(state: NftState, anchor: string, translated: TranslatedAnchor): string {
  const anchors = hooksByAnchor(state);
  const hooks = new Set(translated.rules.map((r) => r.hook));
  const body: string[] = [];
  const removals: string[] = [];
  for (const hook of HOOKS) {
    const chain = chainOf(hook, anchor);
    const existed = state.chains.includes(chain);
    if (hooks.has(hook)) {
      body.push(`add chain ${T} ${chain}`);
      if (existed) body.push(`flush chain ${T} ${chain}`);
      for (const rule of translated.rules.filter((r) => r.hook === hook)) body.push(`add rule ${T} ${chain} ${rule.nft} comment ${quote(rule.pf)}`);
    } else if (existed) {
      removals.push(`delete chain ${T} ${chain}`);
    }
  }
  for (const [name, entries] of translated.tables) body.push(...setLines(name, entries));
  for (const set of anchorSets(state, anchor).filter((s) => !translated.tables.has(s.replace(/-v[46]$/, '')))) removals.push(`delete set ${T} ${set}`);
  if (hooks.size > 0) anchors.set(anchor, hooks);
  else anchors.delete(anchor);
  return finishWithRemovals(state, anchors, topLevelEntries(state.sets), body, removals);
}

/** The whole transaction; or the table's removal once no anchor and no table entry is left. */
function finishWithRemovals(state: NftState, anchors: Map<string, Set<RuleHook>>, topEntries: number, body: string[], removals: string[]): string {
  if (anchors.size === 0 && topEntries === 0) return state.exists ? `delete table ${T}\n` : '';
  const declarations = body.filter((l) => l.startsWith('add set') || l.startsWith('add chain'));
  const rest = body.filter((l) => !declarations.includes(l));
  // Base chains are flushed before anything they jump to is deleted.
  const base = baseLines(anchors);
  const flushes = base.filter((l) => l.startsWith('flush chain'));
  const jumps = base.filter((l) => !l.startsWith('flush chain'));
  return `${[...SKELETON, ...declarations, ...flushes, ...rest, ...removals, ...jumps].join('\n')}\n`;
}

/** Flushes an anchor (`pfctl -a A -F nat|rules|all`): its chains go, and with `all` its tables. */
export function flushAnchorScript(state: NftState, anchor: string, what: 'nat' | 'rules' | 'all'): string {
  const anchors = hooksByAnchor(state);
  const hooks: RuleHook[] = what === 'nat' ? ['rdr', 'nat'] : what === 'rules' ? ['filter'] : HOOKS;
  const removals: string[] = [];
  const remaining = new Set(anchors.get(anchor) ?? []);
  for (const hook of hooks) {
    const chain = chainOf(hook, anchor);
    if (!state.chains.includes(chain)) continue;
    removals.push(`flush chain ${T} ${chain}`, `delete chain ${T} ${chain}`);
    remaining.delete(hook);
  }
  if (what === 'all') for (const set of anchorSets(state, anchor)) removals.push(`delete set ${T} ${set}`);
  if (remaining.size > 0) anchors.set(anchor, remaining);
  else anchors.delete(anchor);
  if (removals.length === 0) return '';
  return finishWithRemovals(state, anchors, topLevelEntries(state.sets), [], removals);
}

/** `pfctl -t T -T add|delete|replace` on a top-level table. */
export function tableScript(state: NftState, table: string, op: 'add' | 'delete' | 'replace', addresses: string[]): string {
  const sets = setNames(table);
  const current = [...(state.sets.get(sets.v4) ?? []), ...(state.sets.get(sets.v6) ?? [])];
  let next: string[];
  if (op === 'add') next = [...new Set([...current, ...addresses])];
  else if (op === 'delete') next = current.filter((a) => !addresses.includes(a));
  else next = [...new Set(addresses)];
  const after: NftState = { ...state, sets: new Map(state.sets) };
  after.sets.set(sets.v4, next.filter((a) => !a.includes(':')));
  after.sets.set(sets.v6, next.filter((a) => a.includes(':')));
  return finishWithRemovals(state, hooksByAnchor(state), topLevelEntries(after.sets), setLines(table, next), []);
}

/** The entries of a top-level table, as `pfctl -t T -T show` lists them. */
export function tableEntries(state: NftState, table: string): string[] {
  const sets = setNames(table);
  return [...(state.sets.get(sets.v4) ?? []), ...(state.sets.get(sets.v6) ?? [])];
}
