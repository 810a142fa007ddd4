// pf.conf(5)'s rule grammar as FreeBSD 14's pfctl reads it (sbin/pfctl/parse.y): the lexer
// (yylex: quoted strings, the one- and two-character operators, NUMBER for a word of digits,
// keywords that are never names), and the productions for filter rules (pfrule), translation
// rules (natrule), anchors (anchorrule), tables (tabledef), options (option), scrub and
// antispoof — enough that a rule FreeBSD refuses is refused here too, with parse.y's text:
// "syntax error" for a word the grammar has no place for, and the rule_consistent /
// filter_consistent / natrule messages for the checks that come after the grammar.
// Rules are checked one line at a time (pfctl joins lines only after a backslash).

export class RuleError extends Error {
  constructor(
    message: string,
    /** A line pfctl printed before yyerror's (pfctl_parser.c host()). */
    readonly before?: string,
  ) {
    super(message);
  }
}

interface Token {
  text: string;
  /** A word in double quotes: always a name, never a keyword. */
  quoted?: boolean;
}

/** parse.y allowed_in_string: alnum or punctuation except ( ) { } < > ! = / # , */
const IN_STRING = /[A-Za-z0-9_.:\-+*@$%&'?[\]\\^`|~;]/;

/** yylex: the tokens of one line (comments were removed by the caller). */
export function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      const end = line.indexOf('"', i + 1);
      if (end < 0) throw new RuleError('unterminated quoted string');
      tokens.push({ text: line.slice(i + 1, end), quoted: true });
      i = end + 1;
      continue;
    }
    const two = line.slice(i, i + 2);
    if (['!=', '<=', '>=', '<>', '><', '->'].includes(two)) {
      tokens.push({ text: two });
      i += 2;
      continue;
    }
    if ('{}()<>!=,/'.includes(c)) {
      tokens.push({ text: c });
      i++;
      continue;
    }
    // yylex reads a word only from an alnum, ':', '_' or '*'; any other character is a
    // token of its own (so `a - b` has a '-' between two words).
    if (!/[A-Za-z0-9:_*]/.test(c)) {
      tokens.push({ text: c });
      i++;
      continue;
    }
    let j = i;
    while (j < line.length && IN_STRING.test(line[j] as string)) j++;
    tokens.push({ text: line.slice(i, j) });
    i = j;
  }
  return tokens;
}

/** parse.y's keywords (the ones a rule of these kinds can meet): never a name. */
const KEYWORDS = new Set([
  'all', 'allow-opts', 'altq', 'anchor', 'antispoof', 'any', 'bandwidth', 'binat', 'binat-anchor', 'bitmask', 'block',
  'block-policy', 'buckets', 'cbq', 'code', 'codelq', 'const', 'counters', 'crop', 'debug', 'divert-reply', 'divert-to',
  'dnpipe', 'dnqueue', 'drop', 'drop-ovl', 'dup-to', 'ether', 'fail-policy', 'fairq', 'fastroute', 'file', 'fingerprints',
  'flags', 'floating', 'flush', 'for', 'fragment', 'from', 'global', 'group', 'hfsc', 'hogs', 'hostid', 'icmp-type',
  'icmp6-type', 'if-bound', 'in', 'include', 'inet', 'inet6', 'interval', 'keep', 'keepcounters', 'l3', 'label', 'limit',
  'linkshare', 'load', 'log', 'loginterface', 'map-e-portset', 'match', 'max', 'max-mss', 'max-src-conn',
  'max-src-conn-rate', 'max-src-nodes', 'max-src-states', 'min-ttl', 'modulate', 'nat', 'nat-anchor', 'no', 'no-df',
  'no-route', 'no-sync', 'on', 'optimization', 'os', 'out', 'overload', 'pass', 'port', 'prio', 'priority', 'priq',
  'probability', 'proto', 'qlimit', 'queue', 'quick', 'random', 'random-id', 'rdr', 'rdr-anchor', 'realtime',
  'reassemble', 'reply-to', 'require-order', 'return', 'return-icmp', 'return-icmp6', 'return-rst', 'ridentifier',
  'round-robin', 'route', 'route-to', 'rtable', 'rule', 'ruleset-optimization', 'scrub', 'set', 'set-tos', 'skip',
  'sloppy', 'source-hash', 'source-track', 'state', 'state-defaults', 'state-policy', 'static-port', 'sticky-address',
  'syncookies', 'synproxy', 'table', 'tag', 'tagged', 'tbrsize', 'timeout', 'to', 'tos', 'ttl', 'upperlimit', 'urpf-failed',
  'user', 'pflow', 'allow-related',
]);

export function isKeyword(word: string): boolean {
  return KEYWORDS.has(word);
}

/** pf's timeout names (pfctl_parser.c pf_timeouts): also valid inside a state option list. */
const STATE_TIMEOUTS = /^(tcp|udp|icmp|other|sctp)\.[a-z]+$|^(frag|interval|src\.track|adaptive\.(start|end))$/;

/** A cursor over one rule's tokens, with parse.y's one error for anything unexpected. */
class Cursor {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  peek(offset = 0): string | undefined {
    return this.tokens[this.i + offset]?.text;
  }
  done(): boolean {
    return this.i >= this.tokens.length;
  }
  next(): Token {
    const token = this.tokens[this.i++];
    if (!token) throw new RuleError('syntax error');
    return token;
  }
  accept(...words: string[]): string | undefined {
    const token = this.tokens[this.i];
    if (token && !token.quoted && words.includes(token.text)) {
      this.i++;
      return token.text;
    }
    return undefined;
  }
  expect(...words: string[]): string {
    return this.accept(...words) ?? fail();
  }
  /** A STRING token that is not a keyword (a quoted word always is one). */
  name(): string {
    const token = this.next();
    if (!token.quoted && (KEYWORDS.has(token.text) || /^[{}()<>!=,/]$|^(!=|<=|>=|<>|><|->)$/.test(token.text))) fail();
    return token.text;
  }
  number(): number {
    const token = this.next();
    if (token.quoted || !/^\d+$/.test(token.text)) fail();
    return Number(token.text);
  }
}

/** yyerror's text, and what pfctl printed before it (host() writes its own line first). */
function fail(message = 'syntax error', before?: string): never {
  throw new RuleError(message, before);
}

/** `{ item, item … }` (commas optional, as in parse.y's comma rule) or one item. */
function listOf(c: Cursor, item: () => void): number {
  if (!c.accept('{')) {
    item();
    return 1;
  }
  let count = 0;
  while (!c.accept('}')) {
    if (count > 0) c.accept(',');
    if (c.peek() === '}') break;
    item();
    count++;
    if (c.done()) fail();
  }
  if (count === 0) fail();
  return count;
}

/** An interface spec: `on [!] if`, `on { if, … }`, or `(if)` forms are not valid after `on`. */
function interfaceSpec(c: Cursor): void {
  listOf(c, () => {
    c.accept('!');
    c.name();
  });
}

/** One address: [!] host[/len] | <table> | (if[:network|:broadcast|:peer|:0]) | a range a - b. */
function hostItem(c: Cursor): void {
  c.accept('!');
  if (c.accept('<')) {
    c.name();
    c.expect('>');
    return;
  }
  if (c.accept('(')) {
    c.name();
    c.expect(')');
    return;
  }
  const word = c.name();
  if (/^[A-Za-z_][\w.-]*:(network|broadcast|peer|0)$/.test(word)) return;
  // host: STRING '-' STRING, an address range.
  if (c.accept('-')) {
    c.name();
    return;
  }
  if (c.accept('/')) {
    // host: STRING '/' NUMBER → pfctl_parser.c host(): more than 128 is "invalid netmask",
    // an IPv4 address with more than 32 finds no address; both end in yyerror.
    const bits = c.number();
    if (bits > 128) fail(`could not parse host specification`, `invalid netmask '/${bits}'`);
    if (bits > 32 && !word.includes(':')) fail(`could not parse host specification`, `no IP address found for ${word}/${bits}`);
  }
}

interface Endpoint {
  port: boolean;
}

const UNARY = ['=', '!=', '<', '<=', '>', '>='];

function portItem(c: Cursor): void {
  if (c.accept(...UNARY)) {
    c.name();
    return;
  }
  const first = c.name();
  if (first.includes(':') && !/^[\w-]+:[\w-]+$/.test(first)) fail();
  if (c.accept('<>', '><')) c.name();
}

/** from|to: any | no-route | urpf-failed | self | hosts, then `port …`. */
function endpoint(c: Cursor, keyword: 'from' | 'to'): Endpoint {
  const out: Endpoint = { port: false };
  if (!c.accept(keyword)) return out;
  if (c.peek() !== 'port') {
    if (!c.accept('any', 'no-route', 'urpf-failed', 'self')) listOf(c, () => (c.accept('self') ? undefined : hostItem(c)));
  }
  if (c.accept('port')) {
    listOf(c, () => portItem(c));
    out.port = true;
  }
  return out;
}

interface Shape {
  protos: string[];
  port: boolean;
  flags: boolean;
}

/** `proto X` or `proto { X, Y }`: protocol names from /etc/protocols, or numbers. */
function protoSpec(c: Cursor, shape: Shape): void {
  if (!c.accept('proto')) return;
  listOf(c, () => shape.protos.push(c.name()));
}

/** `all`, or `[from …] [os …] [to …]`. */
function fromTo(c: Cursor, shape: Shape): void {
  if (c.accept('all')) return;
  const from = endpoint(c, 'from');
  if (c.accept('os')) listOf(c, () => c.name());
  const to = endpoint(c, 'to');
  shape.port = from.port || to.port;
}

/** state_opt_list: `( max N, source-track rule, tcp.established 60, … )`. */
function stateOptions(c: Cursor): void {
  if (!c.accept('(')) return;
  do {
    const word = c.next().text;
    if (['max', 'max-src-states', 'max-src-conn', 'max-src-nodes'].includes(word)) c.number();
    else if (word === 'max-src-conn-rate') {
      c.number();
      c.expect('/');
      c.number();
    } else if (word === 'overload') {
      c.expect('<');
      c.name();
      c.expect('>');
      if (c.accept('flush')) c.accept('global');
    } else if (word === 'source-track') c.accept('rule', 'global');
    else if (STATE_TIMEOUTS.test(word)) c.number();
    else if (!['no-sync', 'if-bound', 'floating', 'sloppy', 'pflow', 'allow-related'].includes(word)) fail();
  } while (c.accept(','));
  c.expect(')');
}

/** flags: `flags S/SA`, `flags /SA`, `flags any` (F, S, R, P, A, U, E, W only). */
function flagsSpec(c: Cursor): void {
  if (c.accept('any')) return;
  const valid = (text: string) => /^[FSRPAUEW]*$/.test(text);
  if (c.peek() !== '/' && !valid(c.next().text)) fail('bad flags');
  if (c.accept('/') && !valid(c.next().text)) fail('bad flags');
}

/** filter_opts: what may follow the addresses of a pass/block/match rule, in any order. */
function filterOptions(c: Cursor, shape: Shape): void {
  while (!c.done()) {
    const word = c.next();
    if (word.quoted) fail();
    switch (word.text) {
      case 'flags': flagsSpec(c); shape.flags = true; break;
      case 'keep': case 'modulate': case 'synproxy': c.expect('state'); stateOptions(c); break;
      case 'no': c.expect('state'); break;
      case 'label': case 'tag': case 'queue': case 'probability': case 'tos': case 'set-tos': c.name(); break;
      case 'tagged': c.accept('!'); c.name(); break;
      case 'rtable': case 'prio': case 'ridentifier': case 'max-mss': case 'min-ttl': c.number(); break;
      case 'dnpipe': case 'dnqueue': listOf(c, () => c.number()); break;
      case 'icmp-type': case 'icmp6-type': listOf(c, () => { c.name(); if (c.accept('code')) c.name(); }); break;
      case 'fragment': case 'allow-opts': case 'once': case 'divert-reply': case 'no-df': case 'random-id': break;
      case 'divert-to': c.name(); c.expect('port'); portItem(c); break;
      case 'set': c.expect('prio', 'tos'); listOf(c, () => c.name()); break;
      case 'user': case 'group': listOf(c, () => portItem(c)); break;
      // match … scrub (no-df max-mss 1440 …): scrub options in parentheses.
      case 'scrub': {
        c.expect('(');
        while (!c.accept(')')) {
          c.next();
          if (c.done()) fail();
        }
        break;
      }
      default: fail();
    }
  }
}

/** route-to / reply-to / dup-to: an interface, `(if addr)`, or a list of them; pool options. */
function routeSpec(c: Cursor): void {
  listOf(c, () => {
    if (c.accept('(')) {
      c.name();
      hostItem(c);
      c.expect(')');
    } else c.name();
  });
  poolOptions(c);
}

const POOL_WORDS = ['bitmask', 'random', 'source-hash', 'round-robin', 'static-port', 'sticky-address'];

function poolOptions(c: Cursor): void {
  for (let word = c.accept(...POOL_WORDS); word; word = c.accept(...POOL_WORDS)) {
    // source-hash takes an optional key: a hex string or a name.
    if (word === 'source-hash' && c.peek() !== undefined && /^0x[0-9a-f]+$/i.test(c.peek() as string)) c.next();
  }
}

/** filter_consistent / rule_consistent (parse.y): the checks after the grammar. */
function consistent(shape: Shape): void {
  const portProtos = ['tcp', 'udp', 'sctp', '6', '17', '132'];
  if (shape.port && (shape.protos.length === 0 || shape.protos.some((p) => !portProtos.includes(p)))) fail('port only applies to tcp/udp/sctp');
  if (shape.flags && shape.protos.some((p) => p !== 'tcp' && p !== '6')) fail('flags only apply to tcp');
}

/** pfrule: action [in|out] [log] [quick] [on if] [route] [af] [proto] fromto filter_opts. */
function filterRule(c: Cursor): void {
  const shape: Shape = { protos: [], port: false, flags: false };
  const action = c.expect('pass', 'block', 'match');
  if (action === 'block') {
    const how = c.accept('drop', 'return', 'return-rst', 'return-icmp', 'return-icmp6');
    if (how && how !== 'drop' && how !== 'return' && c.accept('(')) {
      c.next();
      while (c.accept(',')) c.next();
      c.expect(')');
    }
  }
  c.accept('in', 'out');
  for (let again = true; again; ) {
    again = false;
    if (c.accept('log')) {
      again = true;
      if (c.accept('(')) {
        do c.expect('all', 'user', 'to', 'matches') === 'to' && c.name(); while (c.accept(','));
        c.expect(')');
      }
    }
    if (c.accept('quick')) again = true;
  }
  if (c.accept('on')) interfaceSpec(c);
  if (c.accept('route-to', 'reply-to', 'dup-to')) routeSpec(c);
  else if (c.accept('fastroute')) fail();
  c.accept('inet', 'inet6');
  protoSpec(c, shape);
  fromTo(c, shape);
  filterOptions(c, shape);
  consistent(shape);
}

/** natrule: [no] nat|rdr|binat [pass [log]] [on if] [af] [proto] fromto [tag] [tagged] [-> redirspec [port p]] [pool]. */
function translationRule(c: Cursor): void {
  const shape: Shape = { protos: [], port: false, flags: false };
  const negated = c.accept('no') !== undefined;
  const kind = c.expect('nat', 'rdr', 'binat');
  if (!negated && c.accept('pass')) c.accept('log');
  if (c.accept('on')) interfaceSpec(c);
  c.accept('inet', 'inet6');
  protoSpec(c, shape);
  fromTo(c, shape);
  while (c.accept('tag', 'tagged')) c.name();
  if (c.accept('rtable')) c.number();
  const arrow = c.accept('->') !== undefined;
  if (negated && arrow) fail("translation rule with 'no' does not need '->'");
  if (!negated && !arrow) fail("translation rule requires '-> address'");
  if (arrow) {
    listOf(c, () => hostItem(c));
    if (c.accept('port')) {
      if (kind === 'binat') fail();
      portItem(c);
    }
    poolOptions(c);
  }
  if (!c.done()) fail();
  consistent(shape);
}

/** anchorrule: anchor|nat-anchor|rdr-anchor|binat-anchor NAME [dir] [quick] [on if] [af] [proto] fromto [filter_opts]. */
function anchorRule(c: Cursor): void {
  const shape: Shape = { protos: [], port: false, flags: false };
  const kind = c.expect('anchor', 'nat-anchor', 'rdr-anchor', 'binat-anchor');
  c.name();
  if (kind === 'anchor') {
    c.accept('in', 'out');
    c.accept('quick');
  }
  if (c.accept('on')) interfaceSpec(c);
  c.accept('inet', 'inet6');
  protoSpec(c, shape);
  fromTo(c, shape);
  if (kind === 'anchor') filterOptions(c, shape);
  if (!c.done()) fail();
}

/** tabledef: table <name> [persist] [const] [counters] [file "path"] [{ addresses }]. */
function tableRule(c: Cursor): void {
  c.expect('table');
  c.expect('<');
  c.name();
  c.expect('>');
  while (!c.done()) {
    if (c.accept('persist', 'const', 'counters')) continue;
    if (c.accept('file')) {
      c.name();
      continue;
    }
    if (c.peek() === '{') {
      listOf(c, () => hostItem(c));
      continue;
    }
    fail();
  }
}

function scrubRule(c: Cursor): void {
  const shape: Shape = { protos: [], port: false, flags: false };
  c.expect('scrub');
  c.accept('in', 'out');
  c.accept('log');
  c.accept('quick');
  if (c.accept('on')) interfaceSpec(c);
  c.accept('inet', 'inet6');
  protoSpec(c, shape);
  fromTo(c, shape);
  if (c.accept('(')) {
    while (!c.accept(')')) {
      c.next();
      c.accept(',');
      if (c.done()) fail();
    }
  }
  filterOptions(c, shape);
}

function antispoofRule(c: Cursor): void {
  c.expect('antispoof');
  c.accept('log');
  c.accept('quick');
  c.expect('for');
  interfaceSpec(c);
  c.accept('inet', 'inet6');
  if (c.accept('label')) c.name();
  if (!c.done()) fail();
}

/** Checks one line that is not a macro, `set` option or blank. Throws RuleError with parse.y's text. */
export function checkRule(line: string): void {
  const c = new Cursor(tokenize(line));
  const first = c.peek();
  const second = c.peek(1);
  if (first === 'pass' || first === 'block' || first === 'match') filterRule(c);
  else if (first === 'nat' || first === 'rdr' || first === 'binat' || (first === 'no' && ['nat', 'rdr', 'binat'].includes(second ?? ''))) translationRule(c);
  else if (first === 'anchor' || first === 'nat-anchor' || first === 'rdr-anchor' || first === 'binat-anchor') anchorRule(c);
  else if (first === 'table') tableRule(c);
  else if (first === 'scrub') scrubRule(c);
  else if (first === 'antispoof') antispoofRule(c);
  else if (first === 'load') {
    c.expect('load');
    c.expect('anchor');
    c.name();
    c.expect('from');
    c.name();
    if (!c.done()) fail();
  } else fail();
}

/** parse.y option: the `set` words FreeBSD 14 knows, each with its argument's shape. */
export function checkOption(line: string): void {
  const c = new Cursor(tokenize(line));
  c.expect('set');
  const word = c.next().text;
  switch (word) {
    case 'timeout': return; // read by the caller (names and values)
    case 'limit': listOf(c, () => { c.next(); c.number(); }); break;
    case 'block-policy': c.expect('drop', 'return'); break;
    case 'fail-policy': c.expect('drop', 'return'); break;
    case 'state-policy': c.expect('if-bound', 'floating'); break;
    case 'optimization': case 'ruleset-optimization': case 'loginterface': case 'debug': case 'fingerprints': c.next(); break;
    case 'hostid': c.number(); break;
    case 'require-order': case 'reassemble': if (!['yes', 'no'].includes(c.next().text)) fail(); if (word === 'reassemble') c.accept('no-df'); break;
    case 'skip': c.expect('on'); interfaceSpec(c); break;
    case 'keepcounters': break;
    case 'syncookies': c.expect('never', 'always', 'adaptive'); if (c.accept('(')) { while (!c.accept(')')) { c.next(); if (c.done()) fail(); } } break;
    case 'state-defaults': stateOptions(c); break;
    default: fail();
  }
  if (!c.done()) fail();
}
