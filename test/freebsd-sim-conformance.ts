// Conformance of the FreeBSD tool simulator: the outputs, error texts and exit codes
// that ../shared/reference/freebsd-mechanics.md gives for these tools, byte for byte.
import t from 'tap';
import { newSim, setup, tool } from './helpers/sim.js';

interface Case {
  name: string;
  given?: string[][];
  run: string[];
  stdin?: string;
  stdout?: string;
  stderr?: string;
  code?: number;
}

// pfctl.c usage() (FreeBSD 14).
const PFCTL_USAGE =
  'usage: pfctl [-AdeghMmNnOPqRSrvz] [-a anchor] [-D macro=value] [-F modifier]\n' +
  '\t[-f file] [-i interface] [-K host | network]\n' +
  '\t[-k host | network | gateway | label | id] [-o level] [-p device]\n' +
  '\t[-s modifier] [-t table -T command [address ...]] [-x level]\n';
const POD = ['jail', '-c', 'name=pod', 'path=/', 'vnet', 'persist', 'children.max=8', 'host.hostname=pod'];

const CASES: Case[] = [
  // jail(8), jls(8), jexec(8) — §1.2, §1.4, §1.7
  { name: 'jail -c prints nothing', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet', 'persist', 'children.max=8', 'host.hostname=pod', 'enforce_statfs=1'], stdout: '', stderr: '', code: 0 },
  { name: 'name taken', given: [POD], run: POD, stderr: 'jail: "pod" already exists\n', code: 1 },
  { name: 'child of a missing parent', run: ['jail', '-c', 'name=pod.c1', 'path=/', 'ip4=inherit', 'persist'], stderr: 'jail: jail "pod" not found\n', code: 1 },
  { name: 'vnet with ip4', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet', 'ip4=inherit', 'persist'], stderr: 'jail: vnet jails cannot have IP address restrictions\n', code: 1 },
  { name: 'vnet=inherit with ip6=inherit', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet=inherit', 'ip6=inherit', 'persist'], stderr: 'jail: vnet jails cannot have IP address restrictions\n', code: 1 },
  // jailparam_import (lib/libjail/jail.c): jailsys, boolean and integer values are checked
  // before jail_set, with these texts; enum names in any case and integers are accepted.
  { name: 'vnet=bogus', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet=bogus', 'persist'], stderr: 'jail: vnet: unknown jailsys value "bogus"\n', code: 1 },
  { name: 'persist=maybe', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet', 'persist=maybe'], stderr: 'jail: persist: unknown boolean value "maybe"\n', code: 1 },
  { name: 'children.max=abc', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet', 'persist', 'children.max=abc'], stderr: 'jail: children.max: non-integer value "abc"\n', code: 1 },
  // kern_jail_set: vnet has no "disable" flag in pr_flag_jailsys, and a jailsys integer
  // outside disable/new/inherit is EINVAL (libjail: "jail_set: Invalid argument").
  { name: 'vnet=disable', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet=disable', 'persist'], stderr: 'jail: jail_set: Invalid argument\n', code: 1 },
  { name: 'vnet=7', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet=7', 'persist'], stderr: 'jail: jail_set: Invalid argument\n', code: 1 },
  { name: 'vnet=NEW persist=1', run: ['jail', '-c', 'name=pod', 'path=/', 'vnet=NEW', 'persist=1'], stdout: '', stderr: '', code: 0 },
  { name: 'remove unknown', run: ['jail', '-r', 'pod'], stderr: 'jail: "pod" not found\n', code: 1 },
  { name: 'jls -j unknown', run: ['jls', '-j', 'pod'], stderr: 'jls: jail "pod" not found\n', code: 1 },
  { name: 'jexec unknown', run: ['jexec', 'pod', '/bin/true'], stderr: 'jexec: jail "pod" not found\n', code: 1 },
  {
    name: 'jls default table',
    given: [POD],
    run: ['jls'],
    // jls.c print_jail: an empty IP column for a jail without ip4.addr (the reference's `-`
    // is the pre-libxo printf version's).
    stdout: '   JID  IP Address      Hostname                      Path\n     1                  pod                           /\n',
  },
  { name: 'jls -j pod jid', given: [POD], run: ['jls', '-j', 'pod', 'jid'], stdout: '1\n' },
  { name: 'jls parameter values', given: [POD], run: ['jls', '-j', 'pod', 'name', 'jid', 'vnet', 'children.max'], stdout: 'pod 1 new 8\n' },
  { name: 'jls -d -h of a dying jail', given: [], run: ['jls', '-d', '-h', 'name', 'dying'], stdout: 'name dying\n' },
  { name: 'jls -n booleans', given: [POD], run: ['jls', '-n', '-j', 'pod', 'name', 'persist', 'dying'], stdout: 'name=pod persist nodying\n' },
  {
    name: 'a child allowed as many children as its parent',
    given: [['jail', '-c', 'name=p', 'path=/', 'persist', 'children.max=4']],
    run: ['jail', '-c', 'name=p.c', 'path=/', 'persist', 'children.max=4'],
    stderr: 'jail: jail_set: Operation not permitted\n',
    code: 1,
  },
  { name: 'an explicit jid in use', given: [POD], run: ['jail', '-c', 'jid=1', 'name=other', 'path=/', 'persist'], stderr: 'jail: jail 1 already exists\n', code: 1 },
  {
    name: 'vnet.interface that cannot move',
    run: ['jail', '-c', 'name=pod', 'path=/', 'vnet', 'persist', 'vnet.interface=epair9b'],
    stderr: 'jail: pod: /sbin/ifconfig epair9b vnet pod: failed\n',
    code: 1,
  },
  { name: 'a name that is a number', run: ['jail', '-c', 'name=7', 'path=/', 'persist'], stderr: 'jail: name cannot be numeric (unless it is the jid)\n', code: 1 },
  { name: 'a missing path', run: ['jail', '-c', 'name=x', 'path=/nonexistent', 'persist'], stderr: 'jail: path /nonexistent: No such file or directory\n', code: 1 },

  // ifconfig(8) — §2.1–§2.5
  { name: 'epair create', run: ['ifconfig', 'epair', 'create'], stdout: 'epair0a\n', code: 0 },
  { name: 'epair create takes the lowest free unit', given: [['ifconfig', 'epair', 'create'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0a', 'destroy']], run: ['ifconfig', 'epair', 'create'], stdout: 'epair0a\n' },
  { name: 'epair unit taken', given: [['ifconfig', 'epair7', 'create']], run: ['ifconfig', 'epair7', 'create'], stderr: 'ifconfig: interface epair7 already exists\n', code: 1 },
  { name: 'create name renames only the a-end', run: ['ifconfig', 'epair', 'create', 'name', 'foo'], stdout: 'foo\n' },
  { name: 'create and configure in one command', run: ['ifconfig', 'epair', 'create', 'description', 'x', 'up'], stdout: 'epair0a\n' },
  { name: 'a cloning name too long', run: ['ifconfig', 'epair1234567890123', 'create'], stderr: 'ifconfig: epair1234567890123: cloning name too long\n', code: 1 },
  { name: 'bridge create', run: ['ifconfig', 'bridge', 'create'], stdout: 'bridge0\n' },
  { name: 'bridge create name', run: ['ifconfig', 'bridge', 'create', 'name', 'br-pod'], stdout: 'br-pod\n' },
  {
    name: 'bridge create name taken leaves bridgeN',
    given: [['ifconfig', 'bridge', 'create', 'name', 'br-pod']],
    run: ['ifconfig', 'bridge', 'create', 'name', 'br-pod'],
    stdout: 'bridge1\n',
    stderr: 'ifconfig: ioctl SIOCSIFNAME (set name): File exists\n',
    code: 1,
  },
  { name: 'rename prints the new name', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'name', 'host0'], stdout: 'host0\n' },
  { name: 'rename to a taken name', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'name', 'epair0b'], stderr: 'ifconfig: ioctl SIOCSIFNAME (set name): File exists\n', code: 1 },
  { name: 'rename too long', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'name', 'abcdefghijklmnop'], stderr: 'ifconfig: ioctl SIOCSIFNAME (set name): File name too long\n', code: 1 },
  { name: 'destroy prints nothing', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'destroy'], stdout: '', stderr: '', code: 0 },
  { name: 'destroy a non-clonable interface', run: ['ifconfig', 'vtnet0', 'destroy'], stderr: 'ifconfig: SIOCIFDESTROY: Invalid argument\n', code: 1 },
  { name: 'destroy a missing interface', run: ['ifconfig', 'epair9a', 'destroy'], stderr: 'ifconfig: interface epair9a does not exist\n', code: 1 },
  { name: 'show a missing interface', run: ['ifconfig', 'nope0'], stderr: 'ifconfig: interface nope0 does not exist\n', code: 1 },
  { name: 'vnet to an unknown jail', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0b', 'vnet', 'nojail'], stderr: 'ifconfig: jail "nojail" not found\n', code: 1 },
  { name: '-j an unknown jail', run: ['ifconfig', '-j', 'nojail', '-l'], stderr: 'ifconfig: jail not found: No such file or directory\n', code: 1 },
  { name: 'vnet to a jail without its own vnet', given: [['jail', '-c', 'name=plain', 'path=/', 'persist'], ['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0b', 'vnet', 'plain'], stderr: 'ifconfig: SIOCSIFVNET: File exists\n', code: 1 },
  // ifconfig.c setifrvnet: err(1, "SIOCSIFRVNET(%d, %s)", jid, name); if_vmove_reclaim: ENXIO.
  { name: '-vnet of a name not in the jail', given: [POD], run: ['ifconfig', 'epair0b', '-vnet', 'pod'], stderr: 'ifconfig: SIOCSIFRVNET(1, epair0b): Device not configured\n', code: 1 },
  {
    name: 'vnet when the name is taken inside',
    given: [POD, ['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0b', 'vnet', 'pod'], ['ifconfig', '-j', 'pod', 'epair0b', 'name', 'eth0'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'epair1b', 'name', 'eth0']],
    run: ['ifconfig', 'eth0', 'vnet', 'pod'],
    stderr: 'ifconfig: SIOCSIFVNET: File exists\n',
    code: 1,
  },
  { name: 'remove a missing address', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'inet', '10.0.0.9', '-alias'], stderr: "ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address\n", code: 1 },
  { name: 'prefix too wide', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'inet', '10.0.0.1/33'], stderr: 'ifconfig: 10.0.0.1/33: bad value (width too large)\n', code: 1 },
  // af_inet.c warn_nomask: warnx, so with the program's name.
  { name: 'address without a mask', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'inet', '10.0.0.1'], stderr: 'ifconfig: WARNING: setting interface address without mask is deprecated,\ndefault mask may not be correct.\n', code: 0 },
  { name: 'mtu out of range', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'mtu', '70000'], stderr: 'ifconfig: ioctl SIOCSIFMTU (set mtu): Invalid argument\n', code: 1 },
  { name: 'malformed MAC', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'ether', '02:zz'], stderr: 'ifconfig: malformed link-level address\n', code: 1 },
  { name: 'group ending in a digit', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'group', 'pods1'], stderr: 'ifconfig: setifgroup: group names may not end in a digit\n', code: 1 },
  { name: 'group name too long', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'group', 'abcdefghijklmnopq'], stderr: 'ifconfig: setifgroup: group name too long\n', code: 1 },
  { name: '-g lists members, unknown groups print nothing', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', '-g', 'nosuchgroup'], stdout: '', code: 0 },
  {
    name: 'addm of a member',
    given: [['ifconfig', 'bridge', 'create'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'bridge0', 'addm', 'epair0a']],
    run: ['ifconfig', 'bridge0', 'addm', 'epair0a'],
    stderr: 'ifconfig: BRDGADD epair0a: File exists\n',
    code: 1,
  },
  {
    name: 'addm of another bridge member',
    given: [['ifconfig', 'bridge', 'create'], ['ifconfig', 'bridge', 'create'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'bridge0', 'addm', 'epair0a']],
    run: ['ifconfig', 'bridge1', 'addm', 'epair0a'],
    stderr: 'ifconfig: BRDGADD epair0a: Device busy\n',
    code: 1,
  },
  { name: 'addm of a missing interface', given: [['ifconfig', 'bridge', 'create']], run: ['ifconfig', 'bridge0', 'addm', 'epair5a'], stderr: 'ifconfig: BRDGADD epair5a: No such file or directory\n', code: 1 },
  {
    // if_bridge.c bridge_ioctl_add: a member with another MTU is set to the bridge's.
    name: 'addm with another MTU takes the bridge MTU',
    given: [['ifconfig', 'bridge', 'create'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'bridge0', 'addm', 'epair0a'], ['ifconfig', 'epair1a', 'mtu', '9000'], ['ifconfig', 'bridge0', 'addm', 'epair1a']],
    run: ['ifconfig', 'epair1a', 'inet'],
    stdout: 'epair1a: flags=8942<BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST> metric 0 mtu 1500\n',
  },
  // sys/net/if.c ifhwioctl SIOCSIFMTU: a bridge member's MTU cannot be set, not even to its own.
  {
    name: 'mtu of a bridge member',
    given: [['ifconfig', 'bridge', 'create'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'bridge0', 'addm', 'epair0a']],
    run: ['ifconfig', 'epair0a', 'mtu', '1500'],
    stderr: 'ifconfig: ioctl SIOCSIFMTU (set mtu): Operation not supported\n',
    code: 1,
  },
  // if_bridge.c SIOCSIFMTU: the bridge sets every member to its new MTU.
  {
    name: 'bridge mtu pulls its members along',
    given: [['ifconfig', 'bridge', 'create'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'bridge0', 'addm', 'epair0a'], ['ifconfig', 'bridge0', 'mtu', '9000']],
    run: ['ifconfig', 'epair0a', 'inet'],
    stdout: 'epair0a: flags=8942<BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST> metric 0 mtu 9000\n',
  },
  { name: 'deletem of a non-member', given: [['ifconfig', 'bridge', 'create'], ['ifconfig', 'epair', 'create']], run: ['ifconfig', 'bridge0', 'deletem', 'epair0a'], stderr: 'ifconfig: BRDGDEL epair0a: No such file or directory\n', code: 1 },
  {
    name: "a fresh vnet's lo0 is down and has no address",
    given: [POD],
    run: ['ifconfig', '-j', 'pod', 'lo0'],
    stdout: 'lo0: flags=8008<LOOPBACK,MULTICAST> metric 0 mtu 16384\n\toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>\n\tgroups: lo\n\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>\n',
  },
  { name: 'ifconfig -l', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', '-l'], stdout: 'lo0 vtnet0 epair0a epair0b\n' },
  {
    name: 'a bridge that is not up',
    given: [['ifconfig', 'bridge', 'create']],
    run: ['ifconfig', 'bridge0', 'inet'],
    stdout: 'bridge0: flags=8802<BROADCAST,SIMPLEX,MULTICAST> metric 0 mtu 1500\n',
  },

  // route(8), netstat(1) — §3
  { name: 'route add default', given: [['ifconfig', 'vtnet0', 'inet', '192.0.2.10/24']], run: ['route', 'delete', 'default'], stdout: 'delete net default\n' },
  { name: 'route add -net', run: ['route', 'add', '-net', '10.1.0.0/16', '192.0.2.1'], stdout: 'add net 10.1.0.0/16: gateway 192.0.2.1\n' },
  { name: 'route add host', run: ['route', 'add', '-host', '10.1.2.3', '192.0.2.1'], stdout: 'add host 10.1.2.3: gateway 192.0.2.1\n' },
  { name: 'route add -iface', given: [['ifconfig', 'epair', 'create']], run: ['route', 'add', '-net', '10.2.0.0/16', '-iface', 'epair0b'], stdout: 'add net 10.2.0.0/16: gateway epair0b\n' },
  {
    name: 'route exists',
    run: ['route', 'add', 'default', '192.0.2.1'],
    stdout: 'add net default: gateway 192.0.2.1 fib 0: route already in table\n',
    stderr: 'route: message indicates error: File exists\n',
    code: 1,
  },
  { name: 'route delete missing', run: ['route', 'delete', '-net', '10.9.0.0/16'], stdout: 'delete net 10.9.0.0/16: not in table\n', stderr: 'route: route has not been found\n', code: 1 },
  // route.c getaddr: errx(EX_NOHOST, "bad address: %s") — sysexits.h EX_NOHOST is 68 (the
  // reference's "exit 1" for this case disagrees with the source; the source wins).
  { name: 'route bad address', run: ['route', 'add', '-net', '10.88.0.', '192.0.2.1'], stderr: 'route: bad address: 10.88.0.\n', code: 68 },
  {
    name: 'route -n get default',
    run: ['route', '-n', 'get', 'default'],
    stdout: [
      '   route to: 0.0.0.0',
      'destination: 0.0.0.0',
      '       mask: 0.0.0.0',
      '    gateway: 192.0.2.1',
      '        fib: 0',
      '  interface: vtnet0',
      '      flags: <UP,GATEWAY,DONE,STATIC>',
      ' recvpipe  sendpipe  ssthresh  rtt,msec    mtu        weight    expire',
      '       0         0         0         0      1500         1         0',
      '',
    ].join('\n'),
  },
  { name: 'route get without default', given: [['route', 'delete', 'default']], run: ['route', '-n', 'get', 'default'], stderr: 'route: route has not been found\n', code: 1 },
  {
    name: 'route -6 add default',
    given: [['ifconfig', 'vtnet0', 'inet6', 'fd00::2/64']],
    run: ['route', '-6', 'add', 'default', 'fd00::1'],
    stdout: 'add net default: gateway fd00::1\n',
  },
  {
    name: 'netstat -rn in a pod',
    given: [
      POD,
      ['ifconfig', '-j', 'pod', 'lo0', 'inet', '127.0.0.1/8', 'up'],
      ['ifconfig', 'epair', 'create'],
      ['ifconfig', 'epair0a', 'up'],
      ['ifconfig', 'epair0b', 'vnet', 'pod'],
      ['ifconfig', '-j', 'pod', 'epair0b', 'inet', '10.88.0.5/16', 'up'],
      ['ifconfig', 'bridge', 'create'],
      ['ifconfig', 'bridge0', 'inet', '10.88.0.1/16', 'up'],
      ['route', '-j', 'pod', 'add', 'default', '10.88.0.1'],
    ],
    run: ['netstat', '-j', 'pod', '-rn'],
    stdout: [
      'Routing tables',
      '',
      'Internet:',
      'Destination        Gateway            Flags     Netif Expire',
      'default            10.88.0.1          UGS     epair0b',
      '10.88.0.0/16       link#2             U       epair0b',
      // The local route's gateway is epair0b's link address (see 'netstat -rn local routes').
      '10.88.0.5          link#2             UHS         lo0',
      '127.0.0.1          link#1             UH          lo0',
      '',
      'Internet6:',
      'Destination                       Gateway                       Flags     Netif Expire',
      '::1                               link#1                        UHS         lo0',
      '',
    ].join('\n'),
  },

  // pfctl(8) — §4.3
  { name: 'pfctl -e', run: ['pfctl', '-e'], stderr: 'pf enabled\n', code: 0 },
  { name: 'pfctl -e twice', given: [['pfctl', '-e']], run: ['pfctl', '-e'], stderr: 'pfctl: pf already enabled\n', code: 1 },
  { name: 'pfctl -d', given: [['pfctl', '-e']], run: ['pfctl', '-d'], stderr: 'pf disabled\n', code: 0 },
  { name: 'pfctl -d when off', run: ['pfctl', '-d'], stderr: 'pfctl: pf not enabled\n', code: 1 },
  // pfctl.c main (FreeBSD 14) does not look at what pfctl_show_rules returns: the warning,
  // and exit status 0 (the reference's "exit 1" comes from reports that did not show it).
  { name: 'show a missing anchor', run: ['pfctl', '-a', 'cni-rdr/nope', '-s', 'rules'], stdout: '', stderr: 'pfctl: DIOCGETRULES: Invalid argument\n', code: 0 },
  { name: 'table add creates the table', run: ['pfctl', '-t', 'cni-nat', '-T', 'add', '10.88.0.5'], stderr: '1 table created.\n1/1 addresses added.\n' },
  { name: 'table delete', given: [['pfctl', '-t', 'cni-nat', '-T', 'add', '10.88.0.5']], run: ['pfctl', '-t', 'cni-nat', '-T', 'delete', '10.88.0.5'], stderr: '1/1 addresses deleted.\n' },
  { name: 'table show', given: [['pfctl', '-t', 'cni-nat', '-T', 'add', '10.88.0.5', '10.88.0.6']], run: ['pfctl', '-t', 'cni-nat', '-T', 'show'], stdout: '   10.88.0.5\n   10.88.0.6\n' },
  {
    name: 'anchor table shadowing a global one',
    given: [['pfctl', '-t', 'podnet', '-T', 'add', '10.0.0.1']],
    run: ['pfctl', '-a', 'x', '-t', 'podnet', '-T', 'add', '10.0.0.2'],
    stderr: 'pfctl: warning: namespace collision with <podnet> global table.\n1 table created.\n1/1 addresses added.\n',
  },
  {
    name: 'rules are printed normalised',
    given: [],
    run: ['pfctl', '-a', 'cni-rdr/p1', '-f', '-'],
    stdin: 'rdr pass on vtnet0 inet proto tcp from any to any port 8080 -> 10.0.0.111 port 800\n',
    code: 0,
  },
  { name: 'flush rules', run: ['pfctl', '-a', 'podnet/pod1', '-F', 'rules'], stderr: 'rules cleared\n' },
  {
    name: 'flush all',
    given: [['pfctl', '-a', 'podnet/pod1', '-t', 'pods', '-T', 'add', '10.0.0.1']],
    run: ['pfctl', '-a', 'podnet/pod1', '-F', 'all'],
    // sbin/pfctl/pfctl.c main(): with -a, -F all flushes the anchor's rules and tables only.
    stderr: 'Ethernet rules cleared\nrules cleared\nnat cleared\n1 tables deleted.\n',
  },
  {
    name: 'flush all of the main ruleset',
    run: ['pfctl', '-F', 'all'],
    stderr: 'Ethernet rules cleared\nrules cleared\nnat cleared\n0 tables deleted.\n0 states cleared\nsource tracking entries cleared\npf: statistics cleared\npf: interface flags reset\n',
  },
  { name: 'flush ethernet', run: ['pfctl', '-F', 'ethernet'], stderr: 'Ethernet rules cleared\n' },
  { name: 'flush nat', run: ['pfctl', '-a', 'podnet/pod1', '-F', 'nat'], stderr: 'nat cleared\n' },
  // sbin/pfctl/pfctl.c main: one invocation flushes (-F) before it kills states (-k) and
  // before its table command (-T), whatever the order of the flags.
  { name: 'flush nat and kill states in one run', run: ['pfctl', '-k', '0.0.0.0/0', '-a', 'cni-rdr/p1', '-k', '10.88.0.5', '-F', 'nat'], stderr: 'nat cleared\nkilled 0 states from 1 sources and 1 destinations\n' },
  {
    name: 'kill states before the table command',
    given: [['pfctl', '-t', 'cni-nat', '-T', 'add', '10.88.0.5']],
    run: ['pfctl', '-t', 'cni-nat', '-T', 'delete', '-k', '0.0.0.0/0', '-k', '10.88.0.5', '10.88.0.5'],
    stderr: 'killed 0 states from 1 sources and 1 destinations\n1/1 addresses deleted.\n',
  },
  // pfctl.c main: warnx("can only specify -k twice"), then usage().
  { name: 'a third -k', run: ['pfctl', '-k', '0.0.0.0/0', '-k', '10.88.0.5', '-k', '10.88.0.6'], stderr: `pfctl: can only specify -k twice\n${PFCTL_USAGE}`, code: 1 },
  {
    name: 'rules out of order',
    run: ['pfctl', '-a', 'x', '-f', '-'],
    stdin: 'pass all\nrdr pass inet proto tcp from any to any port 80 -> 10.0.0.1 port 80\n',
    stderr: 'stdin:2: Rules must be in order: options, normalization, queueing, translation, filtering\npfctl: Syntax error in config file: pf rules not loaded\n',
    code: 1,
  },
  { name: 'a line pf.conf has no grammar for', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'frobnicate all\n', stderr: 'stdin:1: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n', code: 1 },
  { name: 'an undefined macro', run: ['pfctl', '-f', '-'], stdin: 'nat on $ext_if from <cni-nat> to any -> ($ext_if)\n', stderr: "stdin:1: macro 'ext_if' not defined\npfctl: Syntax error in config file: pf rules not loaded\n", code: 1 },
  {
    name: "the port's pf.conf.sample loads",
    run: ['pfctl', '-f', '-'],
    stdin: 'v4egress_if = "ix0"\nv6egress_if = "ix0"\nnat on $v4egress_if inet from <cni-nat> to any -> ($v4egress_if)\nnat on $v6egress_if inet6 from <cni-nat> to !ff00::/8 -> ($v6egress_if)\nrdr-anchor "cni-rdr/*"\ntable <cni-nat>\n',
    stderr: '',
    code: 0,
  },
  { name: "podman's pf.conf loads", run: ['pfctl', '-f', '-'], stdin: 'v4egress_if = "vtnet0"\ntable <cni-nat> persist\nnat on $v4egress_if inet from <cni-nat> to any -> ($v4egress_if)\nrdr-anchor "cni-rdr/*"\nnat-anchor "cni-rdr/*"\npass all\n', stderr: '', code: 0 },
  // FreeBSD 14 sbin/pfctl/parse.y natrule: a redirection's own texts ("redirection pools").
  {
    name: 'a table pool that is not round-robin',
    run: ['pfctl', '-a', 'x', '-f', '-'],
    stdin: 'rdr pass inet proto tcp from any to any port 80 -> <svc> port 80 source-hash\n',
    stderr: 'stdin:1: tables are only supported in round-robin redirection pools\npfctl: Syntax error in config file: pf rules not loaded\n',
    code: 1,
  },
  {
    name: 'an address list with source-hash in an rdr',
    run: ['pfctl', '-a', 'x', '-f', '-'],
    stdin: 'rdr pass on lo0 inet proto tcp from any to 10.10.0.1 port 80 -> { 10.88.0.5, 10.88.0.6 } port 8080 source-hash\n',
    stderr: 'stdin:1: only round-robin valid for multiple redirection addresses\npfctl: Syntax error in config file: pf rules not loaded\n',
    code: 1,
  },
  // parse.y natrule disallow_alias: an interface that may hold several addresses (no `:0`).
  {
    name: 'an interface pool that is not round-robin',
    run: ['pfctl', '-a', 'x', '-f', '-'],
    stdin: 'nat on vtnet0 inet from 10.1.0.0/24 to any -> (vtnet0) random\n',
    stderr: 'stdin:1: interface (vtnet0) is only supported in round-robin redirection pools\npfctl: Syntax error in config file: pf rules not loaded\n',
    code: 1,
  },
  { name: 'one address of an interface with any pool', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'nat on vtnet0 inet from 10.1.0.0/24 to any -> (vtnet0:0) random\n', stderr: '', code: 0 },
  // redir_host_list: the comma between a list's hosts is optional (comma: ',' | empty).
  {
    name: 'a list without commas is a list',
    run: ['pfctl', '-a', 'x', '-f', '-'],
    stdin: 'rdr pass inet proto tcp from any to 10.10.0.1 port 80 -> { 10.88.0.5 10.88.0.6 } port 8080 source-hash\n',
    stderr: 'stdin:1: only round-robin valid for multiple redirection addresses\npfctl: Syntax error in config file: pf rules not loaded\n',
    code: 1,
  },
  // parse.y pfrule (route-to): the routing pool's texts.
  {
    name: 'a route-to list that is not round-robin',
    run: ['pfctl', '-a', 'x', '-f', '-'],
    stdin: 'pass out route-to { (vtnet0 192.0.2.1), (vtnet0 192.0.2.2) } random inet from any to any\n',
    stderr: 'stdin:1: r.rpool.opts must be PF_POOL_ROUNDROBIN\npfctl: Syntax error in config file: pf rules not loaded\n',
    code: 1,
  },
  // parse.y redir_host_list appends every host without looking for repeats.
  {
    name: 'a round-robin list that repeats an address',
    run: ['pfctl', '-a', 'x', '-f', '-'],
    stdin: 'rdr pass on lo0 inet proto tcp from any to 10.10.0.1 port 80 -> { 10.88.0.5, 10.88.0.5, 10.88.0.6 } port 8080 round-robin sticky-address\n',
    stderr: '',
    code: 0,
  },
  // parse.y timeout_spec: pfctl_set_timeout fails for a name outside pf_timeouts.
  {
    name: 'an unknown timeout',
    run: ['pfctl', '-f', '-'],
    stdin: 'set timeout { tcp.established 900, tcp.bogus 5 }\n',
    stderr: 'stdin:1: unknown timeout tcp.bogus\npfctl: Syntax error in config file: pf rules not loaded\n',
    code: 1,
  },

  // ifconfig grammar (issue 17). sbin/ifconfig/ifconfig.c ifconfig(): a word no command claims
  // is the address (setifaddr), alias/-alias are commands of their own (notealias), so they may
  // come before or after it; the address and mask are parsed as they are read, the change is
  // made after the last word.
  { name: 'alias before the address, no family word', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'alias', '10.0.0.2/24'], stdout: '', stderr: '', code: 0 },
  {
    name: 'inet -alias A deletes A and keeps the others',
    given: [['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0a', 'inet', '10.0.0.2/24', 'alias'], ['ifconfig', 'epair0a', 'alias', '10.0.0.3/24'], ['ifconfig', 'epair0a', 'inet', '-alias', '10.0.0.2']],
    run: ['ifconfig', 'epair0a', 'inet'],
    stdout: 'epair0a: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n\tinet 10.0.0.3 netmask 0xffffff00 broadcast 10.0.0.255\n',
  },
  // notealias: `remove` and `delete` are -alias.
  { name: 'remove of a missing address', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'inet', '10.1.0.1', 'remove'], stderr: "ifconfig: ioctl (SIOCDIFADDR): Can't assign requested address\n", code: 1 },
  // af_inet.c in_getip: inet_aton, gethostbyname, getnetbyname, else errx "%s: bad value".
  { name: 'a bad IPv4 address', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'inet', '10.0.0.256/24'], stderr: 'ifconfig: 10.0.0.256: bad value\n', code: 1 },
  // af_inet.c in_getaddr: a width that does not start with a digit is "invalid".
  { name: 'a width that is no number', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'inet', '10.0.0.1/x'], stderr: 'ifconfig: 10.0.0.1/x: bad value (width invalid)\n', code: 1 },
  // af_inet6.c in6_getaddr (netlink): strtol of the prefix, 0-128, errx "%s: bad value" of it.
  { name: 'an IPv6 prefix too long', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'inet6', 'fd00::1/129'], stderr: 'ifconfig: 129: bad value\n', code: 1 },
  // af_inet6.c in6_getaddr: getaddrinfo, then inet_pton, else errx "%s: bad value".
  { name: 'a bad IPv6 address', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'inet6', 'fd00::zz/64'], stderr: 'ifconfig: fd00::zz: bad value\n', code: 1 },
  // No implicit inet6: a bare IPv6 address is read as inet, whose width check comes first.
  { name: 'an IPv6 address without inet6', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'fd00::1/64'], stderr: 'ifconfig: fd00::1/64: bad value (width too large)\n', code: 1 },
  { name: 'an IPv6 address without inet6 or width', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'fd00::1'], stderr: 'ifconfig: fd00::1: bad value\n', code: 1 },
  // An unknown keyword is an address too.
  { name: 'an unknown keyword', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'bogus'], stderr: 'ifconfig: bogus: bad value\n', code: 1 },
  // ifconfig(): a NEXTARG command without its argument.
  { name: 'mtu without a value', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'mtu'], stderr: "ifconfig: 'mtu' requires argument\n", code: 1 },
  // setifmtu: atoi.
  { name: 'mtu read by atoi', given: [['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0a', 'mtu', '1400abc']], run: ['ifconfig', 'epair0a', 'mtu', 'abc'], stderr: 'ifconfig: ioctl SIOCSIFMTU (set mtu): Invalid argument\n', code: 1 },
  // warn_nomask: nothing for IFF_LOOPBACK (and IFF_POINTOPOINT) interfaces.
  { name: 'no mask warning on lo0', run: ['ifconfig', 'lo0', 'inet', '127.0.0.2'], stderr: '', code: 0 },
  // main(): `create` on an existing interface is refused alone and skipped before more words.
  { name: 'create of an existing interface', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'create'], stderr: 'ifconfig: interface epair0a already exists\n', code: 1 },
  { name: 'create and more on an existing interface', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'create', 'mtu', '9000'], stdout: '', stderr: '', code: 0 },
  // setifdescr: an empty description is a buffer of length 0, which clears it.
  {
    name: 'an empty description clears it',
    given: [['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0a', 'description', 'pod uplink'], ['ifconfig', 'epair0a', 'description', '']],
    run: ['ifconfig', 'epair0a'],
    stdout:
      'epair0a: flags=8842<BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500\n\toptions=8<VLAN_MTU>\n\tether 02:00:00:01:00:0a\n\tgroups: epair\n' +
      '\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)\n\tstatus: active\n\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>\n',
  },
  // ifconfig.c Perror: EPERM is "permission denied"; setifflags reports the keyword.
  {
    name: 'a flag change from a jail without its own vnet',
    given: [['jail', '-c', 'name=plain', 'path=/', 'persist'], ['ifconfig', 'epair', 'create']],
    run: ['jexec', 'plain', 'ifconfig', 'epair0a', 'down'],
    stderr: 'ifconfig: down: permission denied\n',
    code: 1,
  },
  // libjail jail_getid takes a number as it is; sys/net/if.c if_vmove_loan: ENXIO when no
  // alive jail has that jid; a name is looked up by jail_get, which sees no dying jail.
  { name: 'vnet to a jid that does not exist', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0b', 'vnet', '99'], stderr: 'ifconfig: SIOCSIFVNET: Device not configured\n', code: 1 },
  // if_vmove_reclaim: EINVAL when the jid is not found.
  { name: '-vnet from a jid that does not exist', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0b', '-vnet', '99'], stderr: 'ifconfig: SIOCSIFRVNET(99, epair0b): Invalid argument\n', code: 1 },

  // af_link.c: `ether`, `lladdr` and `link` are address families (af_ether, af_lladdr,
  // af_link), not commands: right after the name the address is set (SIOCSIFLLADDR) once the
  // line is read; anywhere else the word is an inet address (in_getaddr: "bad value"); after
  // a `vnet` on the same line the deferred ioctl finds no interface of that name
  // (ifioctl ENXIO, ifconfig.c Perror: "no such interface"), the move itself having happened.
  {
    name: 'ether right after the name sets the address',
    given: [['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0a', 'ether', '02:aa:bb:cc:dd:01', 'up']],
    run: ['ifconfig', 'epair0a', 'ether'],
    // The hardware address stays beside it as `hwaddr` (af_link.c link_status).
    stdout: 'epair0a: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n\toptions=8<VLAN_MTU>\n\tether 02:aa:bb:cc:dd:01\n\thwaddr 02:00:00:01:00:0a\n',
  },
  { name: 'lladdr alone is the link status, as ether', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'lladdr'], stdout: 'epair0a: flags=8842<BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500\n\toptions=8<VLAN_MTU>\n\tether 02:00:00:01:00:0a\n' },
  { name: 'ether mid-line is an inet address', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'mtu', '1400', 'ether', '02:aa:bb:cc:dd:01'], stderr: 'ifconfig: ether: bad value\n', code: 1 },
  { name: 'ether in a create line after other words', run: ['ifconfig', 'epair', 'create', 'mtu', '1400', 'ether', '02:aa:bb:cc:dd:01'], stdout: 'epair0a\n', stderr: 'ifconfig: ether: bad value\n', code: 1 },
  {
    name: 'ether and vnet on one line: the move happens, the address does not',
    given: [POD, ['ifconfig', 'epair', 'create']],
    run: ['ifconfig', 'epair0b', 'ether', '02:aa:bb:cc:dd:01', 'vnet', 'pod'],
    stderr: 'ifconfig: ioctl (SIOCAIFADDR): no such interface\n',
    code: 1,
  },
  { name: 'a malformed link-level address', given: [['ifconfig', 'epair', 'create']], run: ['ifconfig', 'epair0a', 'lladdr', 'zz:zz'], stderr: 'ifconfig: malformed link-level address\n', code: 1 },

  // af_nd6.c setnd6flags → nd6_ioctl SIOCSIFINFO_IN6: clearing IFDISABLED on an up interface
  // runs in6_if_up, which adds the EUI-64 link-local address (auto_linklocal).
  {
    name: 'inet6 -ifdisabled on an up interface',
    given: [['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0a', 'up'], ['ifconfig', 'epair0a', 'inet6', '-ifdisabled']],
    run: ['ifconfig', 'epair0a', 'inet6'],
    stdout: 'epair0a: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n\tinet6 fe80::ff:fe01:a%epair0a prefixlen 64 scopeid 0x3\n',
  },

  // Status layouts (issue 17). sys/net/if_epair.c: epair_clone_create sets IFF_DRV_RUNNING
  // and LINK_STATE_UP on both ends (epair_set_state), epair_media_status always answers
  // IFM_ACTIVE; netlink adds LOWER_UP only when the interface is also UP.
  {
    name: 'a fresh epair end: RUNNING, status active, not UP',
    given: [['ifconfig', 'epair', 'create']],
    run: ['ifconfig', 'epair0b'],
    stdout: 'epair0b: flags=8842<BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500\n' + '\toptions=8<VLAN_MTU>\n\tether 02:00:00:01:00:0b\n\tgroups: epair\n\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)\n\tstatus: active\n\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>\n',
  },
  {
    name: 'an epair end up while the other is down',
    given: [['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0b', 'up']],
    run: ['ifconfig', 'epair0b'],
    stdout: 'epair0b: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500\n' + '\toptions=8<VLAN_MTU>\n\tether 02:00:00:01:00:0b\n\tgroups: epair\n\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)\n\tstatus: active\n\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>\n',
  },
  // sys/net/if.c if_vmove: if_detach_internal runs if_delgroups and if_down; if_attach_internal
  // gives a cloned interface its cloner's group back. Addresses go, MAC and MTU stay.
  {
    name: 'an epair end right after it moved into a vnet',
    given: [POD, ['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0b', 'inet', '10.9.0.2/24', 'up'], ['ifconfig', 'epair0b', 'group', 'pods'], ['ifconfig', 'epair0b', 'vnet', 'pod']],
    run: ['ifconfig', '-j', 'pod', 'epair0b'],
    stdout: 'epair0b: flags=8842<BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500\n' + '\toptions=8<VLAN_MTU>\n\tether 02:00:00:01:00:0b\n\tgroups: epair\n\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)\n\tstatus: active\n\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>\n',
  },

  // route(8) texts and exit codes (issue 17). route.c usage(): warnx("bad keyword: %s"), then
  // errx(EX_USAGE, "usage: …"): both lines name the program, exit 64.
  { name: 'route without a command', run: ['route'], stderr: 'route: usage: route [-j jail] [-46dnqtv] command [[modifiers] args]\n', code: 64 },
  { name: 'route with an unknown command', run: ['route', 'bogus'], stderr: 'route: bad keyword: bogus\nroute: usage: route [-j jail] [-46dnqtv] command [[modifiers] args]\n', code: 64 },
  // newroute: a `-word` that keywords.h does not hold is usage(word).
  { name: 'route with an unknown modifier', run: ['route', 'add', '-net', '10.1.0.0/16', '-bogus', '192.0.2.1'], stderr: 'route: bad keyword: bogus\nroute: usage: route [-j jail] [-46dnqtv] command [[modifiers] args]\n', code: 64 },
  { name: 'route with an unknown option', run: ['route', '-x', 'get', 'default'], stderr: 'route: illegal option -- x\nroute: usage: route [-j jail] [-46dnqtv] command [[modifiers] args]\n', code: 64 },
  { name: 'route get of a bad address', run: ['route', '-n', 'get', '10.0.0.256'], stderr: 'route: bad address: 10.0.0.256\n', code: 68 },
  // netstat -rn: a local address's route has the owning interface's link address as its
  // gateway (ifa_maintain_loopback_route: link_init_sdl of ifa_ifp) and goes out lo0.
  {
    name: 'netstat -rn local routes',
    run: ['netstat', '-rn', '-f', 'inet'],
    stdout:
      'Routing tables\n\nInternet:\nDestination        Gateway            Flags     Netif Expire\n' +
      'default            192.0.2.1          UGS      vtnet0\n127.0.0.1          link#1             UH          lo0\n' +
      '192.0.2.0/24       link#2             U        vtnet0\n192.0.2.10         link#2             UHS         lo0\n',
  },

  // jail/jls/jexec (issue 17). jls.c main: getopt("adj:hNnqsv"), -a is -d; -N shows the name
  // in the default table; a bad option ends in xo_errx(1, "usage: …"), with the program's name.
  {
    name: 'jls -N',
    given: [POD],
    run: ['jls', '-N'],
    stdout: ' JID             IP Address      Hostname                      Path\n pod                             pod                           /\n',
  },
  { name: 'jail without an operation', run: ['jail'], stderr: "usage: jail [-dhilqv] [-J jid_file] [-u username] [-U username]\n            -[cmr] param=value ... [command=command ...]\n       jail [-dqv] [-f file] [-e separator] -[cmr] [jail]\n       jail [-qv] [-f file] -[rR] ['*' | jail ...]\n       jail [-dhilqv] [-J jid_file] [-u username] [-U username]\n            [-n jailname] [-s securelevel]\n            path hostname [ip[,...]] command ...\n", code: 1 },
  { name: 'jls with a bad option', run: ['jls', '-x'], stderr: 'jls: illegal option -- x\njls: usage: jls [-dhNnqv] [-j jail] [param ...]\n', code: 1 },
  // jls -j takes a non-zero number as a jid; kern_jail_get: "jail %d not found".
  { name: 'jls -j of an unknown jid', run: ['jls', '-j', '99'], stderr: 'jls: jail 99 not found\n', code: 1 },
  // jexec.c: jail_getid passes a number through; jail_attach fails with EINVAL.
  { name: 'jexec of an unknown jid', run: ['jexec', '99', '/bin/true'], stderr: 'jexec: jail_attach(99): Invalid argument\n', code: 1 },

  // pfctl (issue 17). pfctl.c main: -s, -F and -T words go through pfctl_lookup_option (the first
  // word of the list the argument begins, case-sensitive); an unknown one is warnx and usage().
  { name: 'pfctl unknown show modifier', run: ['pfctl', '-s', 'bogus'], stderr: `pfctl: Unknown show modifier 'bogus'\n${PFCTL_USAGE}`, code: 1 },
  { name: 'pfctl unknown flush modifier', run: ['pfctl', '-F', 'bogus'], stderr: `pfctl: Unknown flush modifier 'bogus'\n${PFCTL_USAGE}`, code: 1 },
  { name: 'pfctl unknown table command', run: ['pfctl', '-t', 't', '-T', 'bogus'], stderr: `pfctl: Unknown table command 'bogus'\n${PFCTL_USAGE}`, code: 1 },
  // showopt_list puts "states" before "Sources" and strncmp is case-sensitive: `-s s` is states.
  { name: 'pfctl -s s is states', run: ['pfctl', '-s', 's'], stdout: '', stderr: '', code: 0 },
  { name: 'pfctl operand without -T', run: ['pfctl', '-s', 'rules', 'extra'], stderr: `pfctl: unknown command line argument: extra ...\n${PFCTL_USAGE}`, code: 1 },
  // pfctl_show_anchors: "Anchor '%s' not found." on stderr, and main ignores the result.
  { name: 'pfctl -s Anchors of a missing anchor', run: ['pfctl', '-a', 'nope', '-s', 'Anchors'], stdout: '', stderr: "Anchor 'nope' not found.\n", code: 0 },
  { name: 'pfctl -s nat of a missing anchor', run: ['pfctl', '-a', 'nope', '-s', 'nat'], stdout: '', stderr: 'pfctl: DIOCGETRULES: Invalid argument\n', code: 0 },
  // pfctl_show_running: prints the state, exit status !running.
  { name: 'pfctl -s Running when disabled', run: ['pfctl', '-s', 'Running'], stdout: 'Disabled\n', code: 1 },
  // pfctl_table.c: -T kill of a table counts what pfr_del_tables removed ("%d table deleted").
  { name: 'pfctl -T kill', given: [['pfctl', '-t', 't1', '-T', 'add', '10.0.0.1']], run: ['pfctl', '-t', 't1', '-T', 'kill'], stderr: '1 table deleted.\n', code: 0 },
  { name: 'pfctl -T kill of a missing table', run: ['pfctl', '-t', 't1', '-T', 'kill'], stderr: '0 table deleted.\n', code: 0 },
  // RVTEST → radix_perror, then _error: rv = -1, which main passes to exit(): status 255.
  { name: 'pfctl -T show of a missing table', run: ['pfctl', '-t', 't1', '-T', 'show'], stderr: 'pfctl: Table does not exist.\n', code: 255 },
  { name: 'pfctl -T flush with an operand', run: ['pfctl', '-t', 't1', '-T', 'flush', '10.0.0.1'], stderr: PFCTL_USAGE, code: 1 },

  // pf.conf grammar (issue 17): sbin/pfctl/parse.y. A word the grammar has no place for is
  // yyerror("syntax error") at its line; the consistency checks come after the grammar.
  { name: 'pf rule with an unknown word', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'pass in on vtnet0 frobnicate\n', stderr: 'stdin:1: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n', code: 1 },
  // Keywords are tokens of their own (parse.y lookup()), never an interface or table name.
  { name: 'pf rule with a keyword as interface', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'pass on pass all\n', stderr: 'stdin:1: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n', code: 1 },
  // filter_consistent: a port needs a protocol that has ports (14.0 added sctp).
  { name: 'pf rule with a port and no proto', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'pass in from any to any port 80\n', stderr: 'stdin:1: port only applies to tcp/udp/sctp\npfctl: Syntax error in config file: pf rules not loaded\n', code: 1 },
  { name: 'pf rule with flags on udp', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'pass proto udp from any to any flags S/SA\n', stderr: 'stdin:1: flags only apply to tcp\npfctl: Syntax error in config file: pf rules not loaded\n', code: 1 },
  // natrule: a translation needs `-> address`, a `no` rule must not have one.
  { name: 'nat without a target', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'nat on vtnet0 from any to any\n', stderr: "stdin:1: translation rule requires '-> address'\npfctl: Syntax error in config file: pf rules not loaded\n", code: 1 },
  { name: 'no nat with a target', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'no nat on vtnet0 from any to any -> 192.0.2.10\n', stderr: "stdin:1: translation rule with 'no' does not need '->'\npfctl: Syntax error in config file: pf rules not loaded\n", code: 1 },
  // host: STRING '/' NUMBER → pfctl_parser.c host(): "invalid netmask" over 128, then yyerror.
  { name: 'pf rule with a netmask over 128', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'pass from 10.0.0.0/129 to any\n', stderr: "invalid netmask '/129'\nstdin:1: could not parse host specification\npfctl: Syntax error in config file: pf rules not loaded\n", code: 1 },
  // The second line is checked only after the first parsed: the error names line 2.
  { name: 'pf syntax error on the second line', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'pass all\nblock drop quick inet from any to any port { 80 443 }\n', stderr: 'stdin:2: port only applies to tcp/udp/sctp\npfctl: Syntax error in config file: pf rules not loaded\n', code: 1 },
  // varset: a keyword cannot name a macro.
  { name: 'pf macro named like a keyword', run: ['pfctl', '-a', 'x', '-f', '-'], stdin: 'pass = "vtnet0"\n', stderr: 'stdin:1: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n', code: 1 },
  // option: an unknown `set` word.
  { name: 'pf unknown set option', run: ['pfctl', '-f', '-'], stdin: 'set frobnicate 1\n', stderr: 'stdin:1: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n', code: 1 },
  // What jailnet and podman's pf.conf.sample load parses.
  {
    name: 'pf rules of every shape jailnet loads',
    run: ['pfctl', '-n', '-f', '-'],
    stdin:
      'ext_if = "vtnet0"\ntable <cni-nat> persist\ntable <jailnet-pods> { 10.1.0.0/24, 10.2.0.0/24 }\nset timeout { tcp.established 900, tcp.finwait 45 }\nset skip on lo0\n' +
      'nat on $ext_if inet from <cni-nat> to any -> ($ext_if)\nnat-anchor "cni-rdr/*"\nrdr-anchor "cni-rdr/*"\nrdr-anchor "jailnet-lb"\n' +
      'rdr pass on lo0 inet proto tcp from any to 10.10.0.1 port 80 -> { 10.88.0.5, 10.88.0.6 } port 8080 round-robin sticky-address\n' +
      'rdr pass inet proto tcp from any to self port 8080 -> 10.88.0.2 port 80\nanchor "jailnet-fw"\nanchor "jailnet-lb"\n' +
      'pass out quick on ! lo0 route-to lo0 inet proto tcp from any to 10.9.0.1 port 80\nblock return out quick inet proto udp from any to 10.9.0.2 port 53\n' +
      'pass quick inet from 10.1.0.0/24 to 10.1.0.0/24\nblock drop quick inet from <jailnet-pods> to 10.1.0.0/24\npass in inet proto tcp from any to any port { 22, 443 } flags S/SA keep state (max 100)\n',
    stdout: '',
    stderr: '',
    code: 0,
  },

  // sysctl(8), kldload(8) — §5
  { name: 'sysctl set', run: ['sysctl', 'net.inet.ip.forwarding=1'], stdout: 'net.inet.ip.forwarding: 0 -> 1\n' },
  { name: 'sysctl -n', run: ['sysctl', '-n', 'net.inet.ip.forwarding'], stdout: '0\n' },
  { name: 'sysctl unknown', run: ['sysctl', 'net.foo'], stderr: "sysctl: unknown oid 'net.foo'\n", code: 1 },
  // sbin/sysctl/sysctl.c main: a failing name is a warning, the next one is still done, and
  // the exit status counts the failures (warncount).
  { name: 'sysctl goes on after an unknown oid', run: ['sysctl', 'net.foo', 'net.inet.ip.forwarding=1', 'net.bar'], stdout: 'net.inet.ip.forwarding: 0 -> 1\n', stderr: "sysctl: unknown oid 'net.foo'\nsysctl: unknown oid 'net.bar'\n", code: 2 },
  { name: 'sysctl of a read-only oid', run: ['sysctl', 'kern.osrelease=15.0-RELEASE'], stderr: "sysctl: oid 'kern.osrelease' is read only\n", code: 1 },
  { name: 'kldload prints nothing', given: [], run: ['kldload', 'if_vxlan'], stdout: '', stderr: '', code: 0 },
  { name: 'kldload of a loaded module', run: ['kldload', 'pf'], stderr: "kldload: can't load pf: module already loaded or in kernel\n", code: 1 },
  { name: 'kldload -n of a loaded module', run: ['kldload', '-n', 'pf'], stdout: '', stderr: '', code: 0 },
  { name: 'kldload of an unknown module', run: ['kldload', 'foo'], stderr: "kldload: can't load foo: No such file or directory\n", code: 1 },
  { name: 'kldstat -q -m of a loaded module', run: ['kldstat', '-q', '-m', 'pf'], stdout: '', stderr: '', code: 0 },
  { name: 'kldstat -q -m of a missing module', run: ['kldstat', '-q', '-m', 'if_vxlan'], stdout: '', stderr: '', code: 1 },
];

for (const c of CASES) {
  t.test(c.name, async (t) => {
    const sim = await newSim(t);
    if (c.given) await setup(sim, c.given);
    const result = await tool(sim, c.run[0] as string, c.run.slice(1), c.stdin);
    if (c.stdout !== undefined) t.equal(result.stdout, c.stdout, 'stdout');
    if (c.stderr !== undefined) t.equal(result.stderr, c.stderr, 'stderr');
    t.equal(result.code, c.code ?? 0, 'exit code');
  });
}

t.test('pf absent', async (t) => {
  const sim = await newSim(t, { modules: ['if_bridge', 'if_epair'] });
  const result = await tool(sim, 'pfctl', ['-s', 'rules']);
  t.equal(result.stderr, 'pfctl: /dev/pf: No such file or directory\n');
  t.equal(result.code, 1);
});

t.test('loaded rules read back in pfctl form', async (t) => {
  const sim = await newSim(t);
  await tool(sim, 'pfctl', ['-a', 'cni-rdr/p1', '-f', '-'], 'rdr pass on vtnet0 inet proto tcp from any to any port 8080 -> 10.0.0.111 port 800\n');
  // pfctl_parser.c print_port(): the from/to port by its /etc/services name (8080/tcp is
  // http-alt in FreeBSD's usr.sbin/services_mkdb/services); print_pool() keeps the
  // redirection's port a number.
  const shown = await tool(sim, 'pfctl', ['-a', 'cni-rdr/p1', '-s', 'nat']);
  t.equal(shown.stdout, 'rdr pass on vtnet0 inet proto tcp from any to any port = http-alt -> 10.0.0.111 port 800\n');
  // pfctl.8: "-P Do not perform service name lookup ... display the ports numerically."
  const numeric = await tool(sim, 'pfctl', ['-P', '-a', 'cni-rdr/p1', '-s', 'nat']);
  t.equal(numeric.stdout, 'rdr pass on vtnet0 inet proto tcp from any to any port = 8080 -> 10.0.0.111 port 800\n');
  const anchors = await tool(sim, 'pfctl', ['-a', 'cni-rdr', '-s', 'Anchors']);
  t.equal(anchors.stdout, '  cni-rdr/p1\n');
  await tool(sim, 'pfctl', ['-a', 'cni-rdr/p1', '-F', 'all']);
  const gone = await tool(sim, 'pfctl', ['-a', 'cni-rdr/p1', '-s', 'nat']);
  t.equal(gone.stderr, 'pfctl: DIOCGETRULES: Invalid argument\n', 'a flushed anchor is gone');
});

t.test('translation pools and negations print as pfctl prints them', async (t) => {
  const sim = await newSim(t);
  // parse.y natrule: an interface in parentheses that may hold several addresses (no
  // `:0`), a table or a list, with no pool type, becomes round-robin, which print_pool
  // prints; print_fromto prints a negation as "! " before the address.
  const rules = [
    'nat on vtnet0 inet from <cni-nat> to any -> (vtnet0)',
    'nat on vtnet0 inet6 from <cni-nat> to !ff00::/8 -> (vtnet0)',
    'nat on vtnet0 inet from 10.1.0.0/24 to any -> (vtnet0:0)',
    'nat on vtnet0 inet from 10.2.0.0/24 to any -> 192.0.2.10',
    'rdr pass inet proto tcp from any to ! 10.0.0.9 port 81 -> <pool> port 80 sticky-address',
  ];
  await tool(sim, 'pfctl', ['-a', 'x', '-f', '-'], `${rules.join('\n')}\n`);
  const shown = await tool(sim, 'pfctl', ['-P', '-a', 'x', '-s', 'nat']);
  t.equal(
    shown.stdout,
    [
      'nat on vtnet0 inet from <cni-nat> to any -> (vtnet0) round-robin',
      'nat on vtnet0 inet6 from <cni-nat> to ! ff00::/8 -> (vtnet0) round-robin',
      'nat on vtnet0 inet from 10.1.0.0/24 to any -> (vtnet0:0)',
      'nat on vtnet0 inet from 10.2.0.0/24 to any -> 192.0.2.10',
      'rdr pass inet proto tcp from any to ! 10.0.0.9 port = 81 -> <pool> port 80 round-robin sticky-address',
      '',
    ].join('\n'),
  );
});

t.test('service names only where /etc/services has one for the protocol', async (t) => {
  const sim = await newSim(t);
  // FreeBSD's services: domain 53/tcp and 53/udp; 9090 has no entry; udp 8080 is http-alt too.
  const rules = 'rdr pass inet proto udp from any to any port 53 -> 10.0.0.1 port 5353\nrdr pass inet proto tcp from any to any port 9090 -> 10.0.0.1 port 90\n';
  await tool(sim, 'pfctl', ['-a', 'x', '-f', '-'], rules);
  const shown = await tool(sim, 'pfctl', ['-a', 'x', '-s', 'nat']);
  t.equal(shown.stdout, 'rdr pass inet proto udp from any to any port = domain -> 10.0.0.1 port 5353\nrdr pass inet proto tcp from any to any port = 9090 -> 10.0.0.1 port 90\n');
});

t.test('pass rules print the state they keep by default', async (t) => {
  const sim = await newSim(t);
  // pfctl parse.y fills in keep state, and flags S/SA for rules that can match TCP;
  // print_rule() (pfctl_parser.c) prints both: "pass all flags S/SA keep state".
  await tool(sim, 'pfctl', ['-a', 'f', '-f', '-'], 'pass all\npass quick inet proto udp from 10.1.0.0/24 to 10.1.0.0/24\npass quick inet from 10.2.0.0/24 to any no state\nblock drop quick inet from 10.3.0.0/24 to any\n');
  const shown = await tool(sim, 'pfctl', ['-a', 'f', '-s', 'rules']);
  t.equal(
    shown.stdout,
    'pass all flags S/SA keep state\npass quick inet proto udp from 10.1.0.0/24 to 10.1.0.0/24 keep state\npass quick inet from 10.2.0.0/24 to any no state\nblock drop quick inet from 10.3.0.0/24 to any\n',
  );
});

t.test('pfctl -k kills matching states and says how many', async (t) => {
  const sim = await newSim(t);
  await sim.mutate((s) => {
    s.vnets[0]!.pf.states.push(
      { proto: 'tcp', src: '192.0.2.50:40000', dst: '10.88.0.5:80' },
      { proto: 'tcp', src: '192.0.2.51:40001', dst: '10.88.0.6:80' },
    );
  });
  const result = await tool(sim, 'pfctl', ['-k', '0.0.0.0/0', '-k', '10.88.0.5']);
  t.equal(result.stderr, 'killed 1 states from 1 sources and 1 destinations\n');
  t.equal(sim.state().vnets[0]!.pf.states.length, 1);
});

t.test('a bridge block, FreeBSD 14 layout', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [['ifconfig', 'bridge', 'create'], ['ifconfig', 'epair', 'create'], ['ifconfig', 'bridge0', 'addm', 'epair0a', 'up']]);
  const shown = await tool(sim, 'ifconfig', ['bridge0']);
  const mac = sim.state().ifaces.find((i) => i.name === 'bridge0')!.mac;
  t.equal(
    shown.stdout,
    [
      'bridge0: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500',
      `\tether ${mac}`,
      `\tid ${mac} priority 32768 hellotime 2 fwddelay 15`,
      '\tmaxage 20 holdcnt 6 proto rstp maxaddr 2000 timeout 1200',
      `\troot id ${mac} priority 32768 ifcost 0 port 0`,
      '\tmember: epair0a flags=143<LEARNING,DISCOVER,AUTOEDGE,AUTOPTP>',
      '\t        ifmaxaddr 0 port 4 priority 128 path cost 2000',
      '\tgroups: bridge',
      '\tnd6 options=9<PERFORMNUD,IFDISABLED>',
      '',
    ].join('\n'),
  );
  t.match((await tool(sim, 'ifconfig', ['epair0a'])).stdout, /^epair0a: flags=8942<BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST> /, 'members are PROMISC');
  // bridge_ioctl_add inserts at the head of sc_iflist: the newest member is listed first.
  await setup(sim, [['ifconfig', 'epair', 'create'], ['ifconfig', 'bridge0', 'addm', 'epair1a']]);
  const members = [...(await tool(sim, 'ifconfig', ['bridge0'])).stdout.matchAll(/\tmember: (\S+)/g)].map((m) => m[1]);
  t.same(members, ['epair1a', 'epair0a'], 'the newest member first');
});

t.test('vxlan and tap', async (t) => {
  const sim = await newSim(t, { modules: ['if_bridge', 'if_epair', 'pf', 'if_vxlan', 'if_tuntap'] });
  const vxlan = await tool(sim, 'ifconfig', ['vxlan', 'create', 'vxlanid', '4096', 'vxlanlocal', '127.0.0.1', 'vxlanremote', '127.0.0.254', 'up']);
  t.equal(vxlan.stdout, 'vxlan0\n');
  const shown = await tool(sim, 'ifconfig', ['vxlan0']);
  t.match(shown.stdout, /^vxlan0: flags=\S+ metric 0 mtu 1450\n/, 'vxlan defaults to mtu 1450');
  t.match(shown.stdout, /\n\tvxlan vni 4096 local 127\.0\.0\.1:4789 remote 127\.0\.0\.254:4789\n/);
  t.match(shown.stdout, /\tmedia: Ethernet autoselect \(autoselect <full-duplex>\)\n/);
  t.equal((await tool(sim, 'ifconfig', ['tap', 'create'])).stdout, 'tap0\n');
  t.match((await tool(sim, 'ifconfig', ['tap0'])).stdout, /\tstatus: no carrier\n/, 'a tap nobody opened has no carrier');
});

// jls.c main: `-a` sets JAIL_DYING as `-d` does.
t.test('jls -a lists dying jails too', async (t) => {
  const sim = await newSim(t, { dyingMs: 60_000 });
  await setup(sim, [POD, ['jail', '-r', 'pod']]);
  t.equal((await tool(sim, 'jls', ['name', 'dying'])).stdout, '', 'not without -a');
  t.equal((await tool(sim, 'jls', ['-a', 'name', 'dying'])).stdout, 'pod true\n');
});

t.test('a parent that is dying', async (t) => {
  const sim = await newSim(t, { dyingMs: 60_000 });
  await setup(sim, [POD, ['jail', '-r', 'pod']]);
  const child = await tool(sim, 'jail', ['-c', 'name=pod.c1', 'path=/', 'ip4=inherit', 'persist']);
  t.equal(child.stderr, 'jail: jail "pod" is dying\n');
  t.equal(child.code, 1);
});

t.test('parallel tool runs share one state safely', async (t) => {
  const sim = await newSim(t);
  const runs = await Promise.all(Array.from({ length: 12 }, () => tool(sim, 'ifconfig', ['epair', 'create'])));
  t.same(runs.map((r) => r.code), Array(12).fill(0));
  t.equal(new Set(runs.map((r) => r.stdout)).size, 12, 'twelve distinct epairs');
  t.equal(sim.state().ifaces.filter((i) => i.cloner === 'epair').length, 24);
});

t.test('sysctls are per vnet', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [POD]);
  const inPod = await tool(sim, 'jexec', ['pod', `${sim.env.JAILNET_TOOL_PATH}/sysctl`, 'net.inet.ip.forwarding=1']);
  t.equal(inPod.stdout, 'net.inet.ip.forwarding: 0 -> 1\n');
  t.equal((await tool(sim, 'sysctl', ['-n', 'net.inet.ip.forwarding'])).stdout, '0\n', 'the host keeps its own value');
  const global = await tool(sim, 'jexec', ['pod', `${sim.env.JAILNET_TOOL_PATH}/sysctl`, 'kern.features.vimage=0']);
  t.equal(global.stderr, "sysctl: oid 'kern.features.vimage' is read only\n");
  const hostOnly = await tool(sim, 'jexec', ['pod', `${sim.env.JAILNET_TOOL_PATH}/sysctl`, 'net.fibs=2']);
  t.equal(hostOnly.stderr, "sysctl: oid 'net.fibs' is read only\n");
  const kld = await tool(sim, 'jexec', ['pod', `${sim.env.JAILNET_TOOL_PATH}/kldload`, 'if_vxlan']);
  t.equal(kld.stderr, "kldload: can't load if_vxlan: Operation not permitted\n", 'no kldload inside a jail');
});

t.test('route -n monitor: one line per change of its vnet, until its jail goes', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [['jail', '-c', 'name=mon', 'path=/', 'vnet', 'persist']]);
  const extra = await tool(sim, 'route', ['-n', 'monitor', 'extra']);
  t.equal(extra.code, 64, 'an operand after monitor is refused');
  t.match(extra.stderr, /^route: bad keyword: extra\nroute: usage: route \[-j jail\]/);
  const nojail = await tool(sim, 'route', ['-j', 'nosuch', '-n', 'monitor']);
  t.equal(nojail.code, 1);
  t.equal(nojail.stderr, 'route: jail not found: No such file or directory\n');
  const { SIM_BIN } = await import('./freebsd-sim/src/index.js');
  const { spawn } = await import('node:child_process');
  const path = await import('node:path');
  const child = spawn(path.join(SIM_BIN, 'route'), ['-j', 'mon', '-n', 'monitor'], { env: { ...process.env, ...sim.env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  await new Promise((r) => setTimeout(r, 1_000));
  await setup(sim, [['ifconfig', '-j', 'mon', 'lo0', 'inet', '127.0.0.1/8', 'up']]);
  for (let i = 0; i < 40 && !out.includes('addr 127.0.0.1/8 iface lo0'); i++) await new Promise((r) => setTimeout(r, 50));
  t.match(out, /^\d\d:\d\d:\d\d\.\d{3} add\/repl iface iface#\d+ lo0 admin UP oper UP mtu 16384$/m, 'lo0 up: an iface line');
  t.match(out, /^\d\d:\d\d:\d\d\.\d{3} add\/repl addr 127\.0\.0\.1\/8 iface lo0$/m, 'its address: an addr line');
  await setup(sim, [['jail', '-r', 'mon']]);
  t.equal(await exited, 'SIGKILL', 'jail -r ends the monitor attached to the jail');
});

t.test('pfctl -a ANCHOR -F all leaves the states; -F all of the main ruleset clears them', async (t) => {
  const sim = await newSim(t);
  const state = { proto: 'tcp', src: '192.0.2.1:40000', dst: '10.0.0.5:80' };
  await sim.mutate((s) => {
    (s.vnets.find((v) => v.id === 'host') as (typeof s.vnets)[number]).pf.states.push(state);
  });
  const held = () => sim.state().vnets.find((v) => v.id === 'host')?.pf.states ?? [];
  // sbin/pfctl/pfctl.c main(): pfctl_clear_iface_states only `if (!*anchorname)`.
  t.equal((await tool(sim, 'pfctl', ['-a', 'cni-rdr/p1', '-F', 'all'])).code, 0);
  t.same(held(), [state], 'an anchor flush leaves the state table alone');
  t.match(await tool(sim, 'pfctl', ['-F', 'all']), { code: 0, stderr: /^Ethernet rules cleared\nrules cleared\nnat cleared\n0 tables deleted\.\n1 states cleared\n/ });
  t.same(held(), [], 'a flush of the main ruleset clears it');
});
