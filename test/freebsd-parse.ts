// The driver's readers on real FreeBSD output (samples from freebsd-mechanics.md).
import t from 'tap';
import { isMonitoredChange, parseIfconfig, parseIfconfigList, parseJls, parseKilledStates, parseNetstatRoutes, parsePfLines } from '../src/hosts/freebsd/parse.js';

const EPAIR_A = `epair0a: flags=1008943<UP,BROADCAST,RUNNING,PROMISC,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500
\tdescription: pod-abc host side
\toptions=60001b<RXCSUM,TXCSUM,VLAN_MTU,VLAN_HWTAGGING,RXCSUM_IPV6,TXCSUM_IPV6>
\tether 58:9c:fc:10:be:1a
\tgroups: epair
\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)
\tstatus: active
\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>
`;

const EPAIR_B = `epair4b: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1450
\tdescription: ...
\toptions=200019<RXCSUM,VLAN_MTU,VLAN_HWTAGGING,RXCSUM_IPV6>
\tether 02:42:0a:4f:00:0b
\thwaddr 58:9c:fc:10:d3:fa
\tinet 10.79.0.11 netmask 0xffffff00 broadcast 10.79.0.255
\tgroups: epair
\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)
\tstatus: active
\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>
`;

const BRIDGE = `br0: flags=1008843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST,LOWER_UP> metric 0 mtu 1500
\toptions=10<VLAN_HWTAGGING>
\tether 58:9c:fc:10:c5:b8
\tinet 10.77.77.1 netmask 0xffffff00 broadcast 10.77.77.255
\tid 00:00:00:00:00:00 priority 32768 hellotime 2 fwddelay 15
\tmaxage 20 holdcnt 6 proto rstp maxaddr 2000 timeout 1200
\troot id 00:00:00:00:00:00 priority 32768 ifcost 0 port 0
\tbridge flags=0<>
\tmember: epair0a flags=143<LEARNING,DISCOVER,AUTOEDGE,AUTOPTP>
\t        port 5 priority 128 path cost 2000 vlan protocol 802.1q
\tgroups: bridge
\tnd6 options=9<PERFORMNUD,IFDISABLED>
`;

const LO0 = `lo0: flags=8008<LOOPBACK,MULTICAST> metric 0 mtu 16384
\toptions=680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>
\tgroups: lo
\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>
`;

t.test('ifconfig blocks', async (t) => {
  const [a, b, br, lo] = parseIfconfig(EPAIR_A + EPAIR_B + BRIDGE + LO0);
  t.match(a, { name: 'epair0a', up: true, mtu: 1500, description: 'pod-abc host side', mac: '58:9c:fc:10:be:1a', groups: ['epair'], inet: [] });
  t.ok(a?.flags.includes('PROMISC'));
  t.match(b, { name: 'epair4b', mtu: 1450, mac: '02:42:0a:4f:00:0b', inet: [{ address: '10.79.0.11', prefixLength: 24 }] });
  t.match(br, { name: 'br0', members: ['epair0a'], inet: [{ address: '10.77.77.1', prefixLength: 24 }] });
  t.match(lo, { name: 'lo0', up: false, mtu: 16384, groups: ['lo'] });
  const v6 = parseIfconfig('eth0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 1500\n\tinet6 fe80::1%eth0 prefixlen 64 scopeid 0x2\n\tinet6 fd00::5 prefixlen 64 tentative\n');
  t.same(v6[0]?.inet6, [{ address: 'fe80::1', prefixLength: 64 }, { address: 'fd00::5', prefixLength: 64 }], '13.x header without LOWER_UP, inet6 lines');
});

t.test('ifconfig -l, jls, netstat, pfctl', async (t) => {
  t.same(parseIfconfigList('lo0 vtnet0 epair0a\n'), ['lo0', 'vtnet0', 'epair0a']);
  const jails = parseJls('jid name parent path host.hostname vnet dying\n3 pod 0 / pod new false\n4 pod.c1 3 "/var/containers/my app" c1 inherit true\n');
  t.same(jails, [
    { jid: 3, name: 'pod', parent: 0, path: '/', hostname: 'pod', vnet: 'new', dying: false },
    { jid: 4, name: 'pod.c1', parent: 3, path: '/var/containers/my app', hostname: 'c1', vnet: 'inherit', dying: true },
  ]);
  const routes = parseNetstatRoutes(`Routing tables

Internet:
Destination        Gateway            Flags     Netif Expire
default            10.88.0.1          UGS     epair0b
10.88.0.0/16       link#2             U       epair0b
10.88.0.5          link#1             UHS         lo0
127.0.0.1          link#1             UH          lo0

Internet6:
Destination                       Gateway                       Flags     Netif Expire
::1                               link#1                        UHS         lo0
`);
  t.equal(routes.length, 5);
  t.same(routes[0], { family: 4, destination: 'default', gateway: '10.88.0.1', flags: 'UGS', netif: 'epair0b' });
  t.same(routes[4], { family: 6, destination: '::1', gateway: 'link#1', flags: 'UHS', netif: 'lo0' });
  t.same(parsePfLines('   10.88.0.5\n   10.88.0.6\n'), ['10.88.0.5', '10.88.0.6']);
  t.equal(parseKilledStates('killed 3 states from 1 sources and 1 destinations\n'), 3);
});

t.test('route -n monitor: changes of interfaces, addresses and routes, in both printers', async (t) => {
  // 14.x netlink printer, with and without the PID field (running-pods.md §5).
  const changes = [
    '12:01:02.345 PID 1234 add/repl iface iface#5 epair3b admin UP oper UP mtu 1500',
    '12:01:02.345 PID 1234 delete iface iface#5 epair3b admin UP oper UP mtu 1500',
    '12:01:02.346 PID 1234 add/repl addr 10.88.0.5/16 iface eth0',
    '12:01:02.347 add/repl route 0.0.0.0/0 gw 10.88.0.1 iface eth0 mtu 1500 table inet.0',
    '12:01:02.348 delete addr 10.88.0.5/16 iface eth0',
    // 13.x rtsock printer: the head line of a message block.
    'RTM_IFINFO: iface status change: len 168, if# 5, link: up, flags:<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST>',
    'RTM_IFANNOUNCE: interface arrival/departure: len 32, if# 5, what: arrival',
    'RTM_NEWADDR: address being added to iface: len 52, metric 0, flags:<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST>',
    'RTM_ADD: Add Route: len 192, pid: 1234, seq 1, errno 0, flags:<UP,GATEWAY,DONE,STATIC>',
  ];
  for (const line of changes) t.ok(isMonitoredChange(line), line);
  const noise = [
    '12:01:02.349 PID 0 add/repl neigh 10.88.0.1 state REACHABLE lladdr 02:00:00:00:00:01 iface eth0',
    '12:01:02.350 add/repl nhop#3 ...',
    'got message of size 168 on Sun Dec  6 12:01:02 2026',
    'sockaddrs: <NETMASK,IFP,IFA,BRD>',
    'RTM_MISS: Lookup failed on this address: len 104',
  ];
  for (const line of noise) t.notOk(isMonitoredChange(line), line);
});
