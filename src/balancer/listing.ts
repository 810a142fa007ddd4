// What `--list` and `--save` print, in ipvsadm's own layouts (ipvsadm.c print_title,
// print_service_entry, list_timeout): tools that parse `ipvsadm -Ln` read jailnet's too.
// Addresses are always numeric (jailnet resolves no names, so -n changes nothing), and the
// title line is ipvsadm's for those parsers. Order as libipvs sorts: services by protocol
// (TCP before UDP), address, port; real servers by address, port. Pure.
import { parseIP } from '../ipam/ip.js';
import type { BalancerRules, RealServer, ServiceKey, Timeouts, VirtualService } from './rules.js';

/** Live connections through one real server, from the packet filter's states. */
export interface ServerConnections {
  active: number;
  inactive: number;
}

/** Connection counts by `connectionKey`. */
export type ConnectionCounts = Map<string, ServerConnections>;

export const connectionKey = (service: ServiceKey, server: { address: string; port: number }): string =>
  `${service.protocol} ${service.address}:${service.port} ${server.address}:${server.port}`;

const PROTOCOL_ORDER = { tcp: 6, udp: 17 };

function addressValue(address: string): bigint {
  return parseIP(address)?.value ?? 0n;
}

function compareAddressPort(a: { address: string; port: number }, b: { address: string; port: number }): number {
  const byAddress = addressValue(a.address) - addressValue(b.address);
  return byAddress !== 0n ? (byAddress < 0n ? -1 : 1) : a.port - b.port;
}

export function sortedServices(rules: BalancerRules): VirtualService[] {
  return [...rules.services].sort((a, b) => PROTOCOL_ORDER[a.protocol] - PROTOCOL_ORDER[b.protocol] || compareAddressPort(a, b));
}

const sortedServers = (servers: RealServer[]) => [...servers].sort(compareAddressPort);

function serviceLine(service: VirtualService): string {
  const name = `${service.protocol.toUpperCase().padEnd(4)} ${service.address}:${service.port}`.slice(0, 33);
  return `${name} ${service.scheduler}${service.persistence ? ` persistent ${service.persistence}` : ''}\n`;
}

function serverLine(service: VirtualService, server: RealServer, counts: ConnectionCounts): string {
  const c = counts.get(connectionKey(service, server)) ?? { active: 0, inactive: 0 };
  const name = `${server.address}:${server.port}`.slice(0, 28);
  return `  -> ${name.padEnd(28)} ${'Masq'.padEnd(7)} ${String(server.weight).padEnd(6)} ${String(c.active).padEnd(10)} ${String(c.inactive).padEnd(10)}\n`;
}

const TITLE = 'Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n';

/** `ipvsadm -Ln`: every service, or the one asked for (which must exist: the caller checks). */
export function listText(rules: BalancerRules, counts: ConnectionCounts, only?: VirtualService): string {
  const services = only ? [only] : sortedServices(rules);
  const body = services.map((s) => serviceLine(s) + sortedServers(s.servers).map((r) => serverLine(s, r, counts)).join('')).join('');
  return `${only ? '' : 'IP Virtual Server version 1.2.1 (size=4096)\n'}${TITLE}${body}`;
}

/** `ipvsadm -L --timeout`: the timeouts in force. */
export const timeoutText = (t: Timeouts): string => `Timeout (tcp tcpfin udp): ${t.tcp} ${t.tcpfin} ${t.udp}\n`;

const serviceOption = (s: ServiceKey) => `${s.protocol === 'tcp' ? '-t' : '-u'} ${s.address}:${s.port}`;

/** `ipvsadm -Sn`: the rules as restore lines. */
export function saveText(rules: BalancerRules): string {
  return sortedServices(rules)
    .map((s) => {
      const head = `-A ${serviceOption(s)} -s ${s.scheduler}${s.persistence ? ` -p ${s.persistence}` : ''}\n`;
      return head + sortedServers(s.servers).map((r) => `-a ${serviceOption(s)} -r ${r.address}:${r.port} -m -w ${r.weight}\n`).join('');
    })
    .join('');
}
