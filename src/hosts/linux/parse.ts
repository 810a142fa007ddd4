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
