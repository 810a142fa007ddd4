// Driving jailnet's netavark executable as podman's libnetwork does, and the JSON it sends:
// written here from the contract (../shared/reference/netavark-contract.md §2), in podman 6's
// array form or podman ≤ 5's map form.
import path from 'node:path';
import { ROOT, run, type Run } from './run.js';

export const NETAVARK = path.join(ROOT, 'libexec', 'podman', 'netavark');

export function netavark(args: string[], env: Record<string, string | undefined>, stdin = ''): Promise<Run> {
  return run(NETAVARK, args, env, stdin);
}

export interface NetworkSpec {
  name: string;
  bridge: string;
  subnets: Array<{ subnet: string; gateway?: string }>;
  internal?: boolean;
  ipv6?: boolean;
  options?: Record<string, string>;
  routes?: Array<{ destination: string; gateway?: string }>;
  dns?: boolean;
  dnsServers?: string[];
}

/** A Network as podman stores it in <config dir>/<name>.json. */
export function networkInfo(spec: NetworkSpec) {
  return {
    name: spec.name,
    id: spec.name.padEnd(64, '0').replace(/[^0-9a-f]/g, 'a').slice(0, 64),
    driver: 'bridge',
    network_interface: spec.bridge,
    created: '2026-12-07T01:27:50.955428937Z',
    subnets: spec.subnets,
    ...(spec.routes ? { routes: spec.routes } : {}),
    ipv6_enabled: spec.ipv6 ?? false,
    internal: spec.internal ?? false,
    dns_enabled: spec.dns ?? false,
    ...(spec.dnsServers ? { network_dns_servers: spec.dnsServers } : {}),
    ...(spec.options ? { options: spec.options } : {}),
    ipam_options: { driver: 'host-local' },
  };
}

export interface Attach {
  network: NetworkSpec;
  ips: string[];
  ifname?: string;
  mac?: string;
}

export interface Ports {
  host_ip?: string;
  container_port: number;
  host_port: number;
  range?: number;
  protocol?: string;
}

/** NetworkOptions for one container; `form` picks podman 6's array or podman ≤ 5's map. */
export function networkOptions(containerId: string, name: string, attach: Attach[], ports: Ports[] = [], form: 'array' | 'map' = 'array', aliases: string[] = []) {
  const entries = attach.map((a, i) => ({
    name: a.network.name,
    static_ips: a.ips,
    aliases: [...aliases, containerId.slice(0, 12)],
    interface_name: a.ifname ?? `eth${i}`,
    ...(a.mac ? { static_mac: a.mac } : {}),
  }));
  const networks = form === 'array' ? entries : Object.fromEntries(entries.map(({ name: n, ...rest }) => [n, rest]));
  return {
    container_id: containerId,
    container_name: name,
    ...(ports.length > 0 ? { port_mappings: ports.map((p) => ({ host_ip: p.host_ip ?? '', container_port: p.container_port, host_port: p.host_port, range: p.range ?? 1, protocol: p.protocol ?? 'tcp' })) } : {}),
    networks,
    network_info: Object.fromEntries(attach.map((a) => [a.network.name, networkInfo(a.network)])),
  };
}
