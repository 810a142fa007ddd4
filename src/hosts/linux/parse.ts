// Readers for iproute2's JSON output (`ip -j`), into the driver-neutral shapes of host.ts.
import type { InterfaceInfo, RouteInfo } from '../host.js';

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
}

interface IpLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  address?: string;
  ifalias?: string;
  link_type?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
  addr_info?: IpAddrInfo[];
}

/** `ip -j` prints nothing at all (not `[]`) for an empty list on some versions. */
function parseArray<T>(json: string): T[] {
  return json.trim() === '' ? [] : (JSON.parse(json) as T[]);
}

export function parseLinkNames(json: string): string[] {
  return parseArray<IpLink>(json).map((l) => l.ifname);
}

export function parseLink(json: string, members: string[]): InterfaceInfo | undefined {
  const link = parseArray<IpLink>(json)[0];
  if (!link) return undefined;
  const flags = link.flags ?? [];
  const addresses = (family: string) =>
    (link.addr_info ?? []).filter((a) => a.family === family).map((a) => ({ address: a.local, prefixLength: a.prefixlen }));
  const kind = link.linkinfo?.info_kind;
  return {
    name: link.ifname,
    flags,
    up: flags.includes('UP'),
    mtu: link.mtu ?? 0,
    ...(link.address && link.link_type === 'ether' ? { mac: link.address } : {}),
    ...(link.ifalias ? { description: link.ifalias } : {}),
    groups: kind ? [kind] : [],
    inet: addresses('inet'),
    inet6: addresses('inet6'),
    members,
  };
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  flags?: string[];
  type?: string;
}

export function parseRoutes(json: string, family: 4 | 6): RouteInfo[] {
  return parseArray<IpRoute>(json)
    .filter((r) => r.type === undefined || r.type === 'unicast')
    .map((r) => ({ family, destination: r.dst, gateway: r.gateway ?? '', flags: (r.flags ?? []).join(','), netif: r.dev ?? '' }));
}

export function parseNetnsNames(json: string): string[] {
  return parseArray<{ name: string }>(json).map((n) => n.name);
}

/** `conntrack -D` reports on stderr: "… N flow entries have been deleted." */
export function parseDeletedFlows(stderr: string): number {
  const m = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted/.exec(stderr);
  return m ? Number(m[1]) : 0;
}

/** One line of `conntrack -L`: the protocol, TCP state, and both directions' addresses and ports. */
export interface ConntrackFlow {
  protocol: string;
  state?: string;
  original: { src: string; dst: string; sport: number; dport: number };
  reply: { src: string; dst: string; sport: number; dport: number };
}

/**
 * `conntrack -L` lines: "tcp 6 431999 ESTABLISHED src=A dst=B sport=P dport=Q src=… [ASSURED] …".
 * The first src/dst/sport/dport are the original direction, the second the reply's.
 */
export function parseConntrackFlows(stdout: string): ConntrackFlow[] {
  const flows: ConntrackFlow[] = [];
  for (const line of stdout.split('\n')) {
    const words = line.trim().split(/\s+/);
    const fields = (key: string) => words.filter((w) => w.startsWith(`${key}=`)).map((w) => w.slice(key.length + 1));
    const [src, dst, sport, dport] = [fields('src'), fields('dst'), fields('sport'), fields('dport')];
    if (src.length < 2 || dst.length < 2 || sport.length < 2 || dport.length < 2) continue;
    const state = /^[A-Z_]+$/.test(words[3] ?? '') ? words[3] : undefined;
    const side = (i: number) => ({ src: src[i] as string, dst: dst[i] as string, sport: Number(sport[i]), dport: Number(dport[i]) });
    flows.push({ protocol: words[0] as string, ...(state ? { state } : {}), original: side(0), reply: side(1) });
  }
  return flows;
}
