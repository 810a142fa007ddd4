// The plugins speak pf: the rules they load into anchors are a small, fixed set of
// shapes (rdr for published ports, nat for hairpin and localhost, pass/block quick for
// isolation, anchor tables). This module turns exactly those shapes into nftables
// statements for the Linux driver, and refuses anything else rather than guess.

export type RuleHook = 'rdr' | 'nat' | 'filter';

export interface TranslatedRule {
  hook: RuleHook;
  /** The nft rule body (without `add rule …`). */
  nft: string;
  /** The rule as pfctl prints it; kept as the nft rule's comment and read back by showAnchor. */
  pf: string;
}

export interface TranslatedAnchor {
  rules: TranslatedRule[];
  /** Tables the anchor declares: name → addresses or prefixes. */
  tables: Map<string, string[]>;
  /** Interfaces that NAT from loopback, which Linux routes only with route_localnet. */
  localnetInterfaces: string[];
}

export class PfTranslationError extends Error {
  constructor(line: string, why: string) {
    super(`the linux driver cannot translate pf rule "${line}": ${why}`);
    this.name = 'PfTranslationError';
  }
}

const ADDRESS = /^[0-9a-fA-F.:]+(\/\d{1,3})?$/;
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const IFNAME = /^[A-Za-z][A-Za-z0-9_.-]{0,14}$/;
const PROTOS = new Set(['tcp', 'udp', 'sctp']);

/** pf's address family keyword to nft's payload protocol. */
const payload = (af: string): 'ip' | 'ip6' => (af === 'inet6' ? 'ip6' : 'ip');
const nfproto = (af: string): string => `meta nfproto ${af === 'inet6' ? 'ipv6' : 'ipv4'}`;

/** The nft set names holding one pf table: sets are typed, pf tables are not. */
export function setNames(table: string): { v4: string; v6: string } {
  return { v4: `${table}-v4`, v6: `${table}-v6` };
}

function address(line: string, text: string): string {
  if (!ADDRESS.test(text)) throw new PfTranslationError(line, `"${text}" is not an address`);
  return text;
}

function checkFamily(line: string, af: string): void {
  if (af !== 'inet' && af !== 'inet6') throw new PfTranslationError(line, `unknown address family "${af}"`);
}

function checkProto(line: string, proto: string): void {
  if (!PROTOS.has(proto)) throw new PfTranslationError(line, `unknown protocol "${proto}"`);
}

const RDR = /^rdr pass (\S+) proto (\S+) from any to (\S+) port (?:= )?(\d+) -> (\S+) port (\d+)$/;
const NAT = /^nat on (\S+) (\S+) proto (\S+) from (\S+) to (\S+) port (?:= )?(\d+) -> \((\S+)\)$/;
const PASS = /^pass quick (\S+) from (\S+) to (\S+)$/;
const BLOCK = /^block drop quick (\S+) from (\S+) to (\S+)$/;
const TABLE = /^table <([^>]+)> \{ ?([^}]*?) ?\}$/;

function source(line: string, af: string, text: string, tableScope: string): string {
  const table = /^<(.+)>$/.exec(text);
  if (table) {
    if (!NAME.test(table[1] as string)) throw new PfTranslationError(line, `bad table name "${table[1]}"`);
    const sets = setNames(`${tableScope}${table[1]}`);
    return `@${af === 'inet6' ? sets.v6 : sets.v4}`;
  }
  return address(line, text);
}

/**
 * Translates one anchor's rule text. `tableScope` prefixes the anchor's own tables, as
 * pf keeps a table declared in an anchor inside that anchor.
 */
export function translateAnchor(text: string, tableScope: string): TranslatedAnchor {
  const result: TranslatedAnchor = { rules: [], tables: new Map(), localnetInterfaces: [] };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let m: RegExpExecArray | null;
    if ((m = RDR.exec(line))) {
      const [, af, proto, to, port, dest, destPort] = m as unknown as string[] as [string, string, string, string, string, string, string];
      checkFamily(line, af);
      checkProto(line, proto);
      const match = to === 'self' ? 'fib daddr type local' : `${payload(af)} daddr ${address(line, to)}`;
      const target = af === 'inet6' ? `[${address(line, dest)}]:${destPort}` : `${address(line, dest)}:${destPort}`;
      result.rules.push({
        hook: 'rdr',
        nft: `${nfproto(af)} ${match} ${proto} dport ${port} dnat ${payload(af)} to ${target}`,
        pf: `rdr pass ${af} proto ${proto} from any to ${to} port = ${port} -> ${dest} port ${destPort}`,
      });
    } else if ((m = NAT.exec(line))) {
      const [, ifname, af, proto, from, to, port, natIf] = m as unknown as string[] as [string, string, string, string, string, string, string, string];
      checkFamily(line, af);
      checkProto(line, proto);
      if (!IFNAME.test(ifname) || natIf !== ifname) throw new PfTranslationError(line, 'only NAT to the outgoing interface\'s own address is supported');
      let fromMatch: string;
      if (from === '(lo0)') {
        fromMatch = af === 'inet6' ? '::1' : '127.0.0.0/8';
        if (af === 'inet' && !result.localnetInterfaces.includes(ifname)) result.localnetInterfaces.push(ifname);
      } else {
        fromMatch = address(line, from);
      }
      result.rules.push({
        hook: 'nat',
        nft: `oifname "${ifname}" ${nfproto(af)} ${payload(af)} saddr ${fromMatch} ${payload(af)} daddr ${address(line, to)} ${proto} dport ${port} masquerade`,
        pf: `nat on ${ifname} ${af} proto ${proto} from ${from} to ${to} port = ${port} -> (${natIf})`,
      });
    } else if ((m = PASS.exec(line)) || (m = BLOCK.exec(line))) {
      const [, af, from, to] = m as unknown as string[] as [string, string, string, string];
      checkFamily(line, af);
      const verdict = line.startsWith('pass') ? 'accept' : 'drop';
      result.rules.push({
        hook: 'filter',
        nft: `${nfproto(af)} ${payload(af)} saddr ${source(line, af, from, tableScope)} ${payload(af)} daddr ${address(line, to)} ${verdict}`,
        pf: line,
      });
    } else if ((m = TABLE.exec(line))) {
      const name = m[1] as string;
      if (!NAME.test(name)) throw new PfTranslationError(line, `bad table name "${name}"`);
      const entries = (m[2] as string).split(/[\s,]+/).filter(Boolean).map((a) => address(line, a));
      result.tables.set(`${tableScope}${name}`, entries);
    } else {
      throw new PfTranslationError(line, 'not one of the rule shapes jailnet generates');
    }
  }
  return result;
}
