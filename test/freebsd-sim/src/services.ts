// Service names pfctl prints for ports in from/to: print_port() in sbin/pfctl/pfctl_parser.c
// looks the port up with getservbyport(port, proto) unless -P ("display the ports
// numerically", pfctl.8) and prints `port = NAME` for the = and != operators. The
// names below are FreeBSD's /etc/services (usr.sbin/services_mkdb/services) for the ports
// of 1–525 and 2945–47557 that the simulator's users publish; ports the table leaves out
// print as numbers (a guess wherever FreeBSD's file names one: see docs/freebsd-simulator.md).
type Proto = 'tcp' | 'udp' | 'sctp';

const ENTRIES: Array<[number, string, Proto[]]> = [
  [21, 'ftp', ['tcp', 'udp', 'sctp']],
  [22, 'ssh', ['tcp', 'udp', 'sctp']],
  [23, 'telnet', ['tcp', 'udp']],
  [25, 'smtp', ['tcp', 'udp']],
  [53, 'domain', ['tcp', 'udp']],
  [69, 'tftp', ['tcp', 'udp']],
  [80, 'http', ['tcp', 'udp', 'sctp']],
  [110, 'pop3', ['tcp', 'udp']],
  [111, 'sunrpc', ['tcp', 'udp']],
  [123, 'ntp', ['tcp', 'udp']],
  [143, 'imap', ['tcp', 'udp']],
  [161, 'snmp', ['tcp', 'udp']],
  [389, 'ldap', ['tcp', 'udp']],
  [443, 'https', ['tcp', 'udp', 'sctp']],
  [514, 'syslog', ['udp']],
  [3306, 'mysql', ['tcp', 'udp']],
  [5353, 'mdns', ['tcp', 'udp']],
  [5432, 'postgresql', ['tcp', 'udp']],
  [5672, 'amqp', ['tcp', 'udp', 'sctp']],
  [8080, 'http-alt', ['tcp', 'udp']],
  [9418, 'git', ['tcp', 'udp']],
];

const BY_PORT = new Map<string, string>(ENTRIES.flatMap(([port, name, protos]) => protos.map((p) => [`${port}/${p}`, name] as [string, string])));

export function serviceName(port: number, proto: string): string | undefined {
  return BY_PORT.get(`${port}/${proto}`);
}

/**
 * A loaded rule as pfctl prints it without -P: `port = N` of its from/to part becomes the
 * service name where /etc/services has one for the rule's protocol. The redirection after
 * `->` keeps numbers (print_pool prints `port %u`).
 */
export function withServiceNames(rule: string): string {
  const proto = /\sproto (tcp|udp|sctp)\s/.exec(` ${rule} `)?.[1];
  if (!proto) return rule;
  const [match, ...redirect] = rule.split(' -> ');
  const named = (match as string).replace(/\bport = (\d+)\b/g, (text, port: string) => {
    const name = serviceName(Number(port), proto);
    return name ? `port = ${name}` : text;
  });
  return [named, ...redirect].join(' -> ');
}
