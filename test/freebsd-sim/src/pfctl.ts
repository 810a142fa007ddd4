// pfctl(8), per vnet: anchors holding nat/rdr/filter rule text, tables, states, the
// enable flag; FreeBSD 14's messages (most on stderr) and the rule-order checks.
import { withServiceNames } from './services.js';
import { RuleError, checkOption, checkRule, isKeyword } from './pf-grammar.js';
import { parseIP, parsePrefix } from '../../../dist/ipam/ip.js';
import { ToolError, contextVnet, mayConfigureNetwork, vnetOf } from './model.js';
import type { Pf, PfAnchor, PfTable, SimState } from './state.js';
import { ok, type ToolContext, type ToolOutput } from './tool.js';

const fail = (message: string): never => {
  throw new ToolError(`pfctl: ${message}\n`, 1);
};

const USAGE =
  'usage: pfctl [-AdeghMmNnOPqRSrvz] [-a anchor] [-D macro=value] [-F modifier]\n' +
  '\t[-f file] [-i interface] [-K host | network]\n' +
  '\t[-k host | network | gateway | label | id] [-o level] [-p device]\n' +
  '\t[-s modifier] [-t table -T command [address ...]] [-x level]\n';

interface Options {
  anchor: string;
  file?: string;
  flush: string[];
  show: string[];
  /** -P: ports as numbers, not /etc/services names. */
  numericPorts: boolean;
  table?: string;
  tableCommand?: string;
  kill: string[];
  enable: boolean;
  disable: boolean;
  parseOnly: boolean;
  rest: string[];
}

// pfctl.c (FreeBSD 14) option word lists, in their order: pfctl_lookup_option returns the
// first word the argument is a prefix of (strncmp, case-sensitive), and main() acts on that
// word's first character.
const CLEAR_WORDS = ['nat', 'queue', 'rules', 'Sources', 'states', 'info', 'Tables', 'osfp', 'all', 'ethernet'];
const SHOW_WORDS = ['ether', 'nat', 'queue', 'rules', 'Anchors', 'Sources', 'states', 'info', 'Interfaces', 'labels', 'timeouts', 'memory', 'Tables', 'osfp', 'Running', 'all'];
const TABLE_WORDS = ['kill', 'flush', 'add', 'delete', 'load', 'replace', 'show', 'test', 'zero', 'expire'];

/** pfctl.c: warnx(…) then usage(), which exits 1. */
function usageError(message?: string): never {
  throw new ToolError(`${message === undefined ? '' : `pfctl: ${message}\n`}${USAGE}`, 1);
}

function lookupOption(word: string, list: string[], what: string): string {
  const found = word === '' ? undefined : list.find((entry) => entry.startsWith(word));
  return found ?? usageError(`Unknown ${what} '${word}'`);
}

function parseOptions(argv: string[]): Options {
  const o: Options = { anchor: '', flush: [], show: [], kill: [], enable: false, disable: false, parseOnly: false, numericPorts: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new ToolError(`pfctl: option requires an argument -- ${arg.slice(1)}\n${USAGE}`, 1);
      return v;
    };
    switch (arg) {
      case '-a': o.anchor = value(); break;
      case '-f': o.file = value(); break;
      case '-F': o.flush.push(lookupOption(value(), CLEAR_WORDS, 'flush modifier')); break;
      case '-s': o.show.push(lookupOption(value(), SHOW_WORDS, 'show modifier')); break;
      case '-t': o.table = value(); break;
      case '-T': o.tableCommand = lookupOption(value(), TABLE_WORDS, 'table command'); break;
      // pfctl.c main: "can only specify -k twice" (a source host and a destination).
      case '-k':
        if (o.kill.length >= 2) usageError('can only specify -k twice');
        o.kill.push(value());
        break;
      case '-e': o.enable = true; break;
      case '-d': o.disable = true; break;
      case '-n': o.parseOnly = true; break;
      case '-q': case '-v': case '-vv': break;
      // pfctl.8 (FreeBSD 14): "-P Do not perform service name lookup for port specific rules,
      // instead display the ports numerically."
      case '-P': o.numericPorts = true; break;
      default:
        if (arg.startsWith('-')) throw new ToolError(`pfctl: illegal option -- ${arg.slice(1, 2)}\n${USAGE}`, 1);
        o.rest.push(arg);
    }
  }
  // main(): operands are table addresses after -T, and otherwise refused.
  if (o.rest.length > 0 && !o.tableCommand) usageError(`unknown command line argument: ${o.rest[0]} ...`);
  return o;
}

type RuleKind = 'nat' | 'rdr' | 'rules' | 'table' | 'option';

const FILTER_WORDS = new Set(['pass', 'block', 'match', 'anchor', 'antispoof', 'load']);

/** The section a line belongs to; undefined for a line pf.conf(5) has no grammar for. */
function classify(line: string): RuleKind | undefined {
  const word = line.split(/\s+/)[0] ?? '';
  if (word === 'nat' || word === 'binat' || word === 'no' || word === 'nat-anchor' || word === 'binat-anchor') return 'nat';
  if (word === 'rdr' || word === 'rdr-anchor') return 'rdr';
  if (word === 'table') return 'table';
  if (word === 'set' || word === 'scrub') return 'option';
  return FILTER_WORDS.has(word) ? 'rules' : undefined;
}

/** The rule's grammar first (parse.y reports it at the rule's line), then pfctl's own checks. */
function checkGrammar(line: string, kind: RuleKind, lineNo: number): void {
  try {
    if (kind === 'option' && line.startsWith('set')) checkOption(line);
    else checkRule(line);
  } catch (error) {
    if (error instanceof RuleError) syntaxError(lineNo, error.message, error.before);
    throw error;
  }
}

function syntaxError(lineNo: number, message = 'syntax error', before?: string): never {
  throw new ToolError(`${before ? `${before}\n` : ''}stdin:${lineNo}: ${message}\npfctl: Syntax error in config file: pf rules not loaded\n`, 1);
}

/** Expands $macros defined earlier in the same input, as pfctl's parser does. */
function expandMacros(line: string, macros: Map<string, string>, lineNo: number): string {
  return line.replace(/\$(\w+)/g, (_, name: string) => {
    const value = macros.get(name);
    if (value === undefined) syntaxError(lineNo, `macro '${name}' not defined`);
    return value as string;
  });
}

/**
 * A rule as pfctl prints it back: port numbers of from/to as "port = N", a negation as
 * "! " (pfctl_parser.c print_fromto: printf("! ") before the address), and the pool type
 * a translation rule got without naming one (implicitPool).
 */
function normaliseRule(line: string): string {
  const [match, redirect] = line.split(/\s+->\s+/, 2) as [string, string | undefined];
  const left = match.replace(/\bport\s+(\d+)\b/g, 'port = $1').replace(/!(?![=\s])/g, '! ').replace(/\s+/g, ' ');
  return redirect === undefined ? left : `${left} -> ${implicitPool(redirect.replace(/\s+/g, ' '))}`;
}

/**
 * Filter rules keep state by default, and a pass rule that can match TCP gets
 * `flags S/SA` with it (pfctl's parse.y fills both in; pf.conf(5): "flags S/SA keep
 * state" is the default of pass rules), so pfctl -s rules prints them.
 */
function withStateDefaults(rule: string): string {
  if (!/^pass\b/.test(rule) || /\b(no state|keep state|modulate state|synproxy state)\b/.test(rule)) return rule;
  const proto = /\sproto (\S+)/.exec(rule)?.[1];
  const flags = (!proto || proto === 'tcp') && !/\sflags\s/.test(rule) ? ' flags S/SA' : '';
  return `${rule}${flags} keep state`;
}

const POOL_TYPE = /\b(bitmask|random|source-hash|round-robin)\b/;

/**
 * A redirection's pool as parse.y sees it: the type it names, and what makes it hold
 * several addresses — a table, a list of more than one (the comma between is optional:
 * redir_host_list), or an interface in parentheses without `:0` (DYNIF_MULTIADDR).
 */
function poolOf(redirect: string) {
  const target = /^(\{[^}]*\}|\S+)/.exec(redirect)?.[1] ?? '';
  const hosts = target.startsWith('{') ? target.slice(1, -1).split(/[\s,]+/).filter(Boolean) : [target];
  return {
    target,
    type: POOL_TYPE.exec(redirect)?.[1],
    table: hosts.some((h) => h.startsWith('<')),
    list: hosts.length > 1,
    alias: hosts.find((h) => /^\([^):]+\)$/.test(h)),
  };
}

/**
 * parse.y natrule: a pool that holds several addresses and names no type becomes
 * PF_POOL_ROUNDROBIN, which print_pool prints after the address and port.
 */
function implicitPool(redirect: string): string {
  const pool = poolOf(redirect);
  if (pool.type || !(pool.table || pool.list || pool.alias)) return redirect;
  const [, port = '', rest = ''] = /^(?:\{[^}]*\}|\S+)((?: port \S+)?)(.*)$/.exec(redirect) ?? [];
  return `${pool.target}${port} round-robin${rest}`;
}

/**
 * Pool types with several addresses (FreeBSD 14 sbin/pfctl/parse.y): a translation rule
 * (natrule) and a route-to rule (pfrule) refuse them unless the pool is round-robin, each
 * check with its own text and in parse.y's order — disallow_table, disallow_alias (natrule
 * only here: route-to's `(if addr)` is another form), then the list. Repeated addresses in
 * a list are kept (redir_host_list appends without checking).
 */
function checkPool(line: string, lineNo: number): void {
  const translation = /^(rdr|nat|binat)\b/.test(line);
  const redirect = translation ? line.split(/\s+->\s+/)[1] : /\s(route-to|reply-to|dup-to)\s+(.*)$/.exec(line)?.[2];
  if (!redirect) return;
  const pool = poolOf(redirect);
  if (!pool.type || pool.type === 'round-robin') return;
  const refuse = (message: string): never => {
    throw new ToolError(`stdin:${lineNo}: ${message}\npfctl: Syntax error in config file: pf rules not loaded\n`, 1);
  };
  if (pool.table) refuse(`tables are only supported in round-robin ${translation ? 'redirection' : 'routing'} pools`);
  if (translation && pool.alias) refuse(`interface ${pool.alias} is only supported in round-robin redirection pools`);
  if (pool.list) refuse(translation ? 'only round-robin valid for multiple redirection addresses' : 'r.rpool.opts must be PF_POOL_ROUNDROBIN');
}

/** pf's timeout names (sbin/pfctl/pfctl_parser.c pf_timeouts, FreeBSD 14). */
const TIMEOUT_NAMES = new Set([
  'tcp.first', 'tcp.opening', 'tcp.established', 'tcp.closing', 'tcp.finwait', 'tcp.closed', 'tcp.tsdiff',
  'sctp.first', 'sctp.opening', 'sctp.established', 'sctp.closing', 'sctp.closed',
  'udp.first', 'udp.single', 'udp.multiple', 'icmp.first', 'icmp.error',
  'other.first', 'other.single', 'other.multiple', 'frag', 'interval', 'adaptive.start', 'adaptive.end', 'src.track',
]);

/** `set timeout NAME N` and `set timeout { NAME N, … }` (parse.y timeout_spec: "unknown timeout %s"). */
function parseTimeouts(line: string, lineNo: number, into: Record<string, number>): void {
  const body = /^set\s+timeout\s+(?:\{(.*)\}|(.*))$/.exec(line);
  if (!body) return;
  const pairs = (body[1] ?? body[2] ?? '').split(',').map((p) => p.trim().split(/\s+/)).filter((p) => p[0] !== '');
  for (const [name, value, extra] of pairs) {
    if (value === undefined || extra !== undefined || !/^\d+$/.test(value)) syntaxError(lineNo);
    if (!TIMEOUT_NAMES.has(name as string)) syntaxError(lineNo, `unknown timeout ${name}`);
    into[name as string] = Number(value);
  }
}

// Table definitions stand outside the section order (pfctl's parse.y checks no rule
// state for them, and podman's pf.conf.sample defines <cni-nat> last).
const ORDER: Record<RuleKind, number> = { option: 0, table: -1, nat: 2, rdr: 2, rules: 3 };

/** The vnet's own addresses of one family, as pfctl expands `self` at load time. */
function selfAddresses(state: SimState, vnet: string, af: 'inet' | 'inet6' | undefined): string[] {
  const out: string[] = [];
  for (const iface of state.ifaces.filter((i) => i.vnet === vnet && i.up)) {
    if (af !== 'inet6') out.push(...iface.inet.map((a) => a.address));
    if (af !== 'inet') out.push(...iface.inet6.filter((a) => !a.linkLocal).map((a) => a.address));
  }
  return out;
}

/** A rule naming `self` becomes one rule per local address (pf expands address lists into rules). */
function expandSelf(line: string, addresses: (af: 'inet' | 'inet6' | undefined) => string[]): string[] {
  if (!/(^|\s)(!\s*)?self(\s|$)/.test(line)) return [line];
  const af = /\sinet6\s/.test(line) ? 'inet6' : /\sinet\s/.test(line) ? 'inet' : undefined;
  return addresses(af).map((address) => line.replace(/(^|\s)self(?=\s|$)/, `$1${address}`));
}

function load(pf: Pf, anchor: string, text: string, parseOnly: boolean, local: (af: 'inet' | 'inet6' | undefined) => string[]): void {
  const loaded: PfAnchor = { nat: [], rdr: [], rules: [] };
  const tables: Array<{ name: string; addresses: string[] }> = [];
  const timeouts: Record<string, number> = {};
  let highest = 0;
  const macros = new Map<string, string>();
  text.split('\n').forEach((raw, index) => {
    const stripped = raw.replace(/#.*$/, '').trim();
    if (stripped === '') return;
    const macro = /^(\w+)\s*=\s*"?([^"]*)"?$/.exec(stripped);
    if (macro) {
      // varset: STRING '=' string — a keyword is a token of its own, never a macro's name.
      if (isKeyword(macro[1] as string)) syntaxError(index + 1);
      macros.set(macro[1] as string, expandMacros(macro[2] as string, macros, index + 1));
      return;
    }
    const line = expandMacros(stripped, macros, index + 1);
    const kind = classify(line);
    if (kind === undefined) syntaxError(index + 1);
    checkGrammar(line, kind, index + 1);
    if (ORDER[kind] >= 0 && ORDER[kind] < highest) {
      throw new ToolError(
        `stdin:${index + 1}: Rules must be in order: options, normalization, queueing, translation, filtering\npfctl: Syntax error in config file: pf rules not loaded\n`,
        1,
      );
    }
    highest = Math.max(highest, ORDER[kind]);
    checkPool(line, index + 1);
    if (kind === 'table') {
      const name = /^table\s+<([^>]+)>/.exec(line)?.[1];
      if (!name) syntaxError(index + 1);
      const listed = /\{([^}]*)\}/.exec(line)?.[1];
      tables.push({ name: name as string, addresses: listed ? listed.split(/[\s,]+/).filter(Boolean) : [] });
    } else if (kind === 'option') {
      parseTimeouts(line, index + 1, timeouts);
    } else {
      for (const expanded of expandSelf(line, local)) loaded[kind as 'nat' | 'rdr' | 'rules'].push(kind === 'rules' ? withStateDefaults(normaliseRule(expanded)) : normaliseRule(expanded));
    }
  });
  if (parseOnly) return;
  pf.anchors[anchor] = loaded;
  // Options take effect from the main ruleset only; a reload sets every timeout it does
  // not name back to pf's default (a guess: see docs/freebsd-simulator.md).
  if (anchor === '') pf.timeouts = timeouts;
  // A table defined in the loaded text gets exactly the listed contents; other tables stay.
  for (const { name, addresses } of tables) pf.tables[`${anchor}:${name}`] = { persist: true, addresses };
}

function flush(pf: Pf, anchor: string, what: string, stderr: string[]): void {
  const target = pf.anchors[anchor];
  const clearStates = () => {
    stderr.push(`${pf.states.length} states cleared`);
    pf.states = [];
  };
  const clearTables = () => {
    const keys = Object.keys(pf.tables).filter((k) => k.startsWith(`${anchor}:`));
    for (const key of keys) delete pf.tables[key];
    stderr.push(`${keys.length} tables deleted.`);
  };
  switch (what) {
    case 'rules':
      if (target) target.rules = [];
      stderr.push('rules cleared');
      break;
    case 'nat':
      if (target) {
        target.nat = [];
        target.rdr = [];
      }
      stderr.push('nat cleared');
      break;
    case 'Tables':
      clearTables();
      break;
    // -F states and -F Sources ignore -a: they flush the whole state table.
    case 'states':
      clearStates();
      break;
    case 'Sources':
      stderr.push('source tracking entries cleared');
      break;
    case 'info':
      stderr.push('pf: statistics cleared');
      break;
    // pfctl_flush_eth_rules (FreeBSD 14's pfctl.c): the simulator holds no ethernet rules.
    case 'ethernet':
      stderr.push('Ethernet rules cleared');
      break;
    // sbin/pfctl/pfctl.c main(), -F all: the anchor's ethernet, filter and translation
    // rules and its tables; states, source nodes, statistics, fingerprints and interface
    // flags only without -a (`if (!*anchorname)`). altq is silent on a kernel without it,
    // as are the fingerprints.
    case 'all':
      flush(pf, anchor, 'ethernet', stderr);
      flush(pf, anchor, 'rules', stderr);
      flush(pf, anchor, 'nat', stderr);
      clearTables();
      if (anchor === '') {
        clearStates();
        stderr.push('source tracking entries cleared', 'pf: statistics cleared', 'pf: interface flags reset');
      }
      break;
    default:
      break;
  }
  const emptied = pf.anchors[anchor];
  if (anchor !== '' && emptied && emptied.nat.length + emptied.rdr.length + emptied.rules.length === 0) delete pf.anchors[anchor];
}

function childAnchors(pf: Pf, anchor: string): string[] {
  const prefix = anchor === '' ? '' : `${anchor}/`;
  const names = new Set<string>();
  for (const path of Object.keys(pf.anchors)) {
    if (path === '' || !path.startsWith(prefix)) continue;
    const child = path.slice(prefix.length).split('/')[0];
    if (child) names.add(`${prefix}${child}`);
  }
  return [...names].sort();
}

/** Whether a ruleset exists: the main one always, an anchor once rules were loaded into it. */
function rulesetExists(pf: Pf, anchor: string): boolean {
  return anchor === '' || pf.anchors[anchor] !== undefined || Object.keys(pf.anchors).some((a) => a.startsWith(`${anchor}/`));
}

/**
 * One -s. pfctl.c main (FreeBSD 14) ignores what pfctl_show_rules, pfctl_show_nat and
 * pfctl_show_anchors return, so a missing anchor is a warning with exit status 0:
 * warn("DIOCGETRULES") (EINVAL) for rules and nat, "Anchor '%s' not found." for Anchors.
 * Only -s Running sets the status: 1 when pf is not running.
 */
function show(pf: Pf, anchor: string, what: string, numericPorts: boolean, stderr: string[]): { stdout: string; status: number } {
  const target = pf.anchors[anchor];
  const printed = (rule: string) => `${numericPorts ? rule : withServiceNames(rule)}\n`;
  const missing = !rulesetExists(pf, anchor);
  const out = (stdout: string, status = 0) => ({ stdout, status });
  switch (what) {
    case 'rules':
      if (missing) stderr.push('pfctl: DIOCGETRULES: Invalid argument');
      return out((target?.rules ?? []).map(printed).join(''));
    case 'nat':
      if (missing) stderr.push('pfctl: DIOCGETRULES: Invalid argument');
      return out([...(target?.nat ?? []), ...(target?.rdr ?? [])].map(printed).join(''));
    case 'Anchors':
      if (missing) stderr.push(`Anchor '${anchor}' not found.`);
      // pfctl_show_anchors: names starting with '_' only with -v.
      return out(missing ? '' : childAnchors(pf, anchor).filter((a) => !a.split('/').at(-1)!.startsWith('_')).map((a) => `  ${a}\n`).join(''));
    case 'Tables':
      return out(Object.keys(pf.tables)
        .filter((k) => k.startsWith(`${anchor}:`))
        .map((k) => `${k.slice(anchor.length + 1)}\n`)
        .join(''));
    case 'states':
      // pfctl's print_state: an inbound state prints its stack side, then the wire side in
      // parentheses when a translation made them differ (the address the client asked for).
      return out(pf.states.map((s) => `all ${s.proto} ${s.dst}${s.original ? ` (${s.original})` : ''} <- ${s.src}       ${s.proto === 'tcp' ? 'ESTABLISHED:ESTABLISHED' : 'MULTIPLE:MULTIPLE'}\n`).join(''));
    case 'info':
      return out(`Status: ${pf.enabled ? 'Enabled' : 'Disabled'} for 0 days 00:00:00           Debug: Urgent\n`);
    // pfctl_show_running: print_running, and !running as the exit status.
    case 'Running':
      return out(`${pf.enabled ? 'Enabled' : 'Disabled'}\n`, pf.enabled ? 0 : 1);
    default:
      return out('');
  }
}

function validAddress(text: string): boolean {
  const bare = text.replace(/^!/, '');
  return (bare.includes('/') ? parsePrefix(bare) : parseIP(bare)) !== null;
}

/**
 * pfctl_table.c (FreeBSD 14): an error inside a table command (RVTEST: radix_perror, "pfctl:
 * Table does not exist.") goes to _error, rv = -1, which main() passes to exit(): status 255.
 * `test` with a miss returns 2.
 */
function tableError(stderr: string[], message: string): never {
  throw new ToolError([...stderr, `pfctl: ${message}.`].map((l) => `${l}\n`).join(''), 255);
}

function table(pf: Pf, anchor: string, name: string, command: string, addresses: string[], stderr: string[]): string {
  const key = `${anchor}:${name}`;
  const existing = pf.tables[key];
  const bad = addresses.find((a) => !validAddress(a));
  if (bad && command !== 'expire') tableError(stderr, `${bad}: Invalid argument`);
  const create = () => {
    if (anchor !== '' && pf.tables[`:${name}`]) stderr.push(`pfctl: warning: namespace collision with <${name}> global table.`);
    stderr.push('1 table created.');
    return (pf.tables[key] = { persist: true, addresses: [] });
  };
  const mustExist = () => existing ?? tableError(stderr, 'Table does not exist');
  const noOperands = () => {
    if (addresses.length > 0) usageError();
  };
  switch (command) {
    case 'add': {
      const t = existing ?? create();
      const added = addresses.filter((a) => !t.addresses.includes(a));
      t.addresses.push(...added);
      stderr.push(`${added.length}/${addresses.length} addresses added.`);
      return '';
    }
    case 'delete': {
      const t = mustExist();
      const removed = addresses.filter((a) => t.addresses.includes(a));
      t.addresses = t.addresses.filter((a) => !addresses.includes(a));
      stderr.push(`${removed.length}/${addresses.length} addresses deleted.`);
      return '';
    }
    case 'replace': {
      const t = existing ?? create();
      const added = addresses.filter((a) => !t.addresses.includes(a));
      const removed = t.addresses.filter((a) => !addresses.includes(a));
      t.addresses = [...new Set(addresses)];
      if (added.length) stderr.push(`${added.length} addresses added.`);
      if (removed.length) stderr.push(`${removed.length} addresses deleted.`);
      if (!added.length && !removed.length) stderr.push('no changes.');
      return '';
    }
    case 'flush': {
      noOperands();
      const t = mustExist();
      stderr.push(`${t.addresses.length} addresses deleted.`);
      t.addresses = [];
      return '';
    }
    // pfr_del_tables: a table that is not there counts 0, no error.
    case 'kill':
      noOperands();
      if (existing) delete pf.tables[key];
      stderr.push(`${existing ? 1 : 0} table deleted.`);
      return '';
    default:
      return tableQuery(command, addresses, stderr, mustExist);
  }
}

/** The table commands that change no address: show, test, zero, expire (and load, a no-op here). */
function tableQuery(command: string, addresses: string[], stderr: string[], mustExist: () => PfTable): string {
  switch (command) {
    case 'show':
      if (addresses.length > 0) usageError();
      return mustExist().addresses.map((a) => `   ${a}\n`).join('');
    case 'test': {
      const t = mustExist();
      const hits = addresses.filter((a) => t.addresses.includes(a)).length;
      stderr.push(`${hits}/${addresses.length} addresses match.`);
      if (hits < addresses.length) throw new ToolError(stderr.join('\n') + '\n', 2);
      return '';
    }
    case 'zero': {
      const t = mustExist();
      stderr.push(addresses.length > 0 ? `${addresses.filter((a) => t.addresses.includes(a)).length}/${addresses.length} addresses cleared.` : '1 table/stats cleared.');
      return '';
    }
    // expire SECONDS: strtonum(0, UINT_MAX); the simulator keeps no address ages, so none expire.
    case 'expire': {
      if (addresses.length !== 1) usageError();
      if (!/^\d+$/.test(addresses[0] as string)) throw new ToolError('pfctl: expiry time: invalid\n', 1);
      mustExist();
      stderr.push('0/0 addresses expired.');
      return '';
    }
    // `-T load` loads only the tables of the -f file; main() runs no table command for it.
    default:
      return '';
  }
}

/** -k host [-k host]: the states from the first to the second (pfctl_net_kill_states). */
function killStates(pf: Pf, hosts: string[], stderr: string[]): void {
  const [from, to] = hosts as [string, string | undefined];
  // A state is matched on its wire side: for a redirected one, the destination the client asked for.
  const killed = pf.states.filter((s) => matchesHost(hostPart(s.src), from) && (to === undefined || matchesHost(hostPart(s.original ?? s.dst), to)));
  pf.states = pf.states.filter((s) => !killed.includes(s));
  stderr.push(`killed ${killed.length} states from 1 sources and ${to === undefined ? 0 : 1} destinations`);
}

function matchesHost(address: string, spec: string): boolean {
  const ip = parseIP(address.replace(/:\d+$|\[|\]/g, ''));
  const prefix = spec.includes('/') ? parsePrefix(spec) : null;
  if (!ip) return false;
  if (prefix) return prefix.bits === 0 || ip.value >> BigInt((ip.family === 4 ? 32 : 128) - prefix.bits) === prefix.ip.value >> BigInt((ip.family === 4 ? 32 : 128) - prefix.bits);
  return parseIP(spec)?.value === ip.value;
}

function hostPart(endpoint: string): string {
  return endpoint.replace(/:\d+$/, '');
}

export function pfctl(ctx: ToolContext, argv: string[]): ToolOutput {
  const { state } = ctx;
  // The command line is checked before /dev/pf is opened (pfctl.c main).
  const o = parseOptions(argv);
  // Every -s and -F is checked as it is parsed; only the last of each is done (one showopt,
  // one clearopt in pfctl.c main).
  const showWhat = o.show.at(-1);
  const flushWhat = o.flush.at(-1);
  // Without pf, and in jails without a vnet of their own (devfs hides /dev/pf), there is no device.
  if (!state.modules.includes('pf') || !mayConfigureNetwork(state, ctx.callerJid)) throw new ToolError('pfctl: /dev/pf: No such file or directory\n', 1);
  const vnet = vnetOf(state, contextVnet(state, ctx.callerJid));
  const pf = vnet.pf;
  const stdout: string[] = [];
  const stderr: string[] = [];
  // One invocation does its operations in main()'s order, whatever the order of the flags
  // (sbin/pfctl/pfctl.c main): -d, -s, -F, -k, -T, -f, -e.
  if (o.disable) {
    if (!pf.enabled) throw new ToolError('pfctl: pf not enabled\n', 1);
    pf.enabled = false;
    stderr.push('pf disabled');
  }
  let status = 0;
  if (showWhat !== undefined) {
    const shown = show(pf, o.anchor, showWhat, o.numericPorts, stderr);
    stdout.push(shown.stdout);
    status = shown.status;
  }
  if (flushWhat !== undefined) flush(pf, o.anchor, flushWhat, stderr);
  if (o.kill.length > 0) killStates(pf, o.kill, stderr);
  if (o.table !== undefined) {
    if (!o.tableCommand) throw new ToolError(USAGE, 1);
    stdout.push(table(pf, o.anchor, o.table, o.tableCommand, o.rest, stderr));
  }
  if (o.file !== undefined) {
    const text = o.file === '-' ? ctx.stdin : fail(`${o.file}: No such file or directory`);
    load(pf, o.anchor, text as string, o.parseOnly, (af) => selfAddresses(state, vnet.id, af));
  }
  if (o.enable) {
    if (pf.enabled) throw new ToolError(stderr.map((l) => `${l}\n`).join('') + 'pfctl: pf already enabled\n', 1);
    pf.enabled = true;
    stderr.push('pf enabled');
  }
  const err = stderr.map((l) => `${l}\n`).join('');
  if (status !== 0) throw new ToolError(err, status, stdout.join(''));
  return ok(stdout.join(''), err);
}

export function pfOf(state: SimState, vnetId: string): Pf {
  return vnetOf(state, vnetId).pf;
}
