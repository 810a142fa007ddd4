// Readers for the text FreeBSD's tools print: ifconfig blocks and -l, jls -h, netstat -rn,
// pfctl listings. Pure functions, tested against real-format samples.
import type { InterfaceAddress, InterfaceInfo, JailInfo, RouteInfo } from '../host.js';

export function parseIfconfigList(stdout: string): string[] {
  return stdout.trim().split(/\s+/).filter(Boolean);
}

const HEADER = /^([^\s:]+): flags=([0-9a-f]+)<([^>]*)> metric \d+ mtu (\d+)/;

function netmaskToLength(hex: string): number {
  const value = parseInt(hex.replace(/^0x/, ''), 16) >>> 0;
  return value.toString(2).replace(/0+$/, '').length;
}

/** Parses the blocks of `ifconfig` / `ifconfig -a` / `ifconfig X`. */
export function parseIfconfig(stdout: string): InterfaceInfo[] {
  const out: InterfaceInfo[] = [];
  let current: InterfaceInfo | undefined;
  for (const line of stdout.split('\n')) {
    const header = HEADER.exec(line);
    if (header) {
      const flags = (header[3] as string).split(',').filter(Boolean);
      current = {
        name: header[1] as string,
        flags,
        up: flags.includes('UP'),
        mtu: Number(header[4]),
        groups: [],
        inet: [],
        inet6: [],
        members: [],
      };
      out.push(current);
      continue;
    }
    if (!current || !line.startsWith('\t')) continue;
    const text = line.trim();
    let match: RegExpExecArray | null;
    if ((match = /^description: (.*)$/.exec(text))) current.description = match[1];
    else if ((match = /^ether ([0-9a-f:]{17})$/.exec(text))) current.mac = match[1];
    else if ((match = /^inet (\S+) netmask (0x[0-9a-f]+)/.exec(text))) {
      current.inet.push({ address: match[1] as string, prefixLength: netmaskToLength(match[2] as string) });
    } else if ((match = /^inet6 (\S+) prefixlen (\d+)/.exec(text))) {
      const address: InterfaceAddress = { address: (match[1] as string).replace(/%.*$/, ''), prefixLength: Number(match[2]) };
      current.inet6.push(address);
    } else if ((match = /^groups: (.*)$/.exec(text))) current.groups = (match[1] as string).split(/\s+/).filter(Boolean);
    else if ((match = /^member: (\S+)/.exec(text))) current.members.push(match[1] as string);
  }
  return out;
}

/** Splits a `jls -q` line: values with spaces come in double quotes. */
function splitQuoted(line: string): string[] {
  const out: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(line))) out.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : (match[2] as string));
  return out;
}

/** The parameters the driver asks jls for, in this order. */
export const JLS_PARAMS = ['jid', 'name', 'parent', 'path', 'host.hostname', 'vnet', 'dying'] as const;

/** Parses `jls -d -h -q jid name parent path host.hostname vnet dying`. */
export function parseJls(stdout: string): JailInfo[] {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const header = splitQuoted(lines[0] ?? '');
  return lines.slice(1).map((line) => {
    const values = splitQuoted(line);
    const get = (name: string) => values[header.indexOf(name)] ?? '';
    return {
      jid: Number(get('jid')),
      name: get('name'),
      parent: Number(get('parent')),
      path: get('path'),
      hostname: get('host.hostname'),
      vnet: get('vnet') === 'new' ? 'new' : 'inherit',
      dying: get('dying') === 'true',
    };
  });
}

/** Parses `netstat -rn` (both families). */
export function parseNetstatRoutes(stdout: string): RouteInfo[] {
  const routes: RouteInfo[] = [];
  let family: 4 | 6 | undefined;
  for (const line of stdout.split('\n')) {
    if (line.startsWith('Internet:')) family = 4;
    else if (line.startsWith('Internet6:')) family = 6;
    else if (family && line.trim() && !line.startsWith('Destination')) {
      const [destination, gateway, flags, netif] = line.trim().split(/\s+/);
      if (destination && gateway && flags && netif) routes.push({ family, destination, gateway, flags, netif });
    }
  }
  return routes;
}

/** `pfctl -s info`'s first line says whether pf is on (pfctl_parser.c print_status). */
export const pfEnabled = (stdout: string): boolean => /^Status: Enabled/m.test(stdout);

/** pfctl -s rules|nat and -T show print one item per line. */
export function parsePfLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** `pfctl -k` reports "killed N states from …". */
/** `pfctl -T delete`'s "N/M addresses deleted." (pfctl_table.c). */
export function parseDeletedAddresses(stderr: string): number {
  const match = /(\d+)\/\d+ addresses deleted/.exec(stderr);
  return match ? Number(match[1]) : 0;
}

export function parseKilledStates(stderr: string): number {
  const match = /killed (\d+) states/.exec(stderr);
  return match ? Number(match[1]) : 0;
}

export interface PfStateLine {
  protocol: string;
  /** Where the connection goes now: for a redirected one, the real server. */
  translated: { address: string; port: number };
  /** The destination the client asked for, printed in parentheses when a rule translated it. */
  original?: { address: string; port: number };
  state: string;
}

const hostPort = (text: string): { address: string; port: number } => {
  const at = text.lastIndexOf(':');
  return { address: text.slice(0, at), port: Number(text.slice(at + 1)) };
};

/**
 * `pfctl -s states` (pfctl's print_state): "all tcp 10.88.0.5:8080 (10.10.0.1:80) <-
 * 10.88.0.9:34567       ESTABLISHED:ESTABLISHED" — for an inbound state the stack side
 * first, the wire side in parentheses when they differ. IPv4 lines only (`[a]:p` is not read).
 */
export function parsePfStates(stdout: string): PfStateLine[] {
  const out: PfStateLine[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\S+\s+(\w+)\s+([\d.]+:\d+)(?:\s+\(([\d.]+:\d+)\))?\s+(?:<-|->)\s+[\d.]+:\d+(?:\s+\([\d.]+:\d+\))?\s+(\S+)/.exec(line.trim());
    if (!m) continue;
    out.push({ protocol: m[1] as string, translated: hostPort(m[2] as string), ...(m[3] ? { original: hostPort(m[3]) } : {}), state: m[4] as string });
  }
  return out;
}

/**
 * Whether a line of `route -n monitor` reports a change of an interface, an address or a
 * route (what netmon looks at), in either printer's form. 14.x's netlink printer
 * (sbin/route/route_netlink.c): `HH:MM:SS.mmm [PID n ]add/repl|delete iface|addr|route …`,
 * some builds without the `PID n` field; neighbour and nexthop lines are not changes of
 * the pod's network. 13.x's rtsock printer: a block per message whose head line names
 * its type (`RTM_IFINFO: …`), among `got message of size …` and sockaddr lines
 * (freebsd-mechanics.md §3.2, running-pods.md §5).
 */
export function isMonitoredChange(line: string): boolean {
  if (/^\d\d:\d\d:\d\d\.\d+ (PID \d+ )?(add\/repl|add|delete|del|repl|change) (iface|addr|route)\b/.test(line)) return true;
  return /^RTM_(IFINFO|IFANNOUNCE|NEWADDR|DELADDR|ADD|DELETE|CHANGE):/.test(line.trim());
}
