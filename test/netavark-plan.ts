// The netavark door's pure parts: the command line as podman writes it (every option form,
// in any order), both wire forms of NetworkOptions, and the chain planned from a network,
// with each bad input refused before anything runs.
import t from 'tap';
import { parseInvocation, UsageError } from '../dist/netavark/options.js';
import { planAttachments } from '../dist/netavark/plan.js';
import { NetavarkError, readNetworkOptions } from '../dist/netavark/wire.js';
import { networkOptions, type NetworkSpec } from './helpers/netavark.js';

const ID = 'ab'.repeat(32);
const WEB: NetworkSpec = { name: 'web', bridge: 'podman1', subnets: [{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }] };
const DUAL: NetworkSpec = { name: 'dual', bridge: 'podman2', ipv6: true, subnets: [{ subnet: '10.90.0.0/24', gateway: '10.90.0.1' }, { subnet: 'fd10:90::/64', gateway: 'fd10:90::1' }] };

t.test('global options in every form and order', async (t) => {
  const forms = [
    ['--config', '/run/c', '--rootless=false', '--aardvark-binary=/usr/lib/podman/aardvark-dns', 'setup', '/run/netns/x'],
    ['--aardvark-binary', '/usr/lib/podman/aardvark-dns', '--rootless', 'false', '--config=/run/c', 'setup', '/run/netns/x'],
    ['-c', '/run/c', '-r', 'false', '-a', '/usr/lib/podman/aardvark-dns', 'setup', '/run/netns/x'],
    ['-c/run/c', '-a/usr/lib/podman/aardvark-dns', 'setup', '/run/netns/x', '-r=false'],
  ];
  for (const argv of forms) {
    t.match(parseInvocation(argv), { config: '/run/c', rootless: false, aardvarkBinary: '/usr/lib/podman/aardvark-dns', command: 'setup', target: '/run/netns/x' }, argv.join(' '));
  }
  t.same(parseInvocation(['--plugin-directory', '/a', '--plugin-directory=/b', '-c', '/c', 'teardown', 'ns']).pluginDirectories, ['/a', '/b'], 'repeated --plugin-directory');
  t.equal(parseInvocation(['--config', '/c', '--aardvark-binary=', 'setup', 'ns']).aardvarkBinary, '', 'an empty aardvark path (none found) is a value');
  t.match(parseInvocation(['-f', '/tmp/in.json', '--config', '/c', 'setup', 'ns']), { file: '/tmp/in.json' });
  t.match(parseInvocation(['--config', '/c', 'update', 'web', '--network-dns-servers', '']), { command: 'update', target: 'web', dnsServers: '' }, 'update with an empty list');
  t.match(parseInvocation(['--config', '/c', 'update', 'web', '--network-dns-servers=1.1.1.1,8.8.8.8']), { dnsServers: '1.1.1.1,8.8.8.8' });
  t.match(parseInvocation(['--version']), { versionFlag: true });
  t.match(parseInvocation(['-V']), { versionFlag: true });
  t.match(parseInvocation(['version']), { command: 'version' });
});

t.test('usage errors', async (t) => {
  const bad: Array<[string[], RegExp]> = [
    [[], /subcommand is required/],
    [['frobnicate'], /unrecognized subcommand 'frobnicate'/],
    [['--config', '/c', 'setup'], /namespace argument of 'setup' is required/],
    [['--config'], /a value is required for '--config'/],
    [['--rootless=maybe', 'setup', 'ns'], /invalid value 'maybe' for '--rootless'/],
    [['--bogus', 'setup', 'ns'], /unexpected argument '--bogus'/],
    [['setup', 'ns', 'extra'], /unexpected argument 'extra'/],
    [['update', 'web'], /requires --network-dns-servers/],
    [['--network-dns-servers', 'x', 'setup', 'ns'], /unexpected argument '--network-dns-servers'/],
  ];
  for (const [argv, message] of bad) t.throws(() => parseInvocation(argv), { name: 'UsageError', message }, argv.join(' ') || '(no arguments)');
  t.ok(new UsageError('x') instanceof Error);
});

t.test('both wire forms read to the same ordered networks; unknown keys ignored', async (t) => {
  const attach = [{ network: WEB, ips: ['10.89.0.2'] }, { network: DUAL, ips: ['10.90.0.5', 'fd10:90::5'] }];
  const array = readNetworkOptions(JSON.stringify({ ...networkOptions(ID, 'c1', attach, [], 'array'), surprise: 1 }));
  const map = readNetworkOptions(JSON.stringify(networkOptions(ID, 'c1', attach, [], 'map')));
  t.same(array.networks.map((n) => n.name), ['web', 'dual']);
  t.same(map.networks, array.networks, 'the map reads as the array');
  const bad: Array<[unknown, RegExp]> = [
    ['{', /^failed to load network options: /],
    [{ container_name: 'x', networks: {}, network_info: {} }, /missing field `container_id`/],
    [{ container_id: ID, container_name: 'x', networks: 3, network_info: {} }, /expected a map or a sequence/],
    [{ container_id: ID, container_name: 'x', networks: {}, network_info: {}, port_mappings: [{ host_ip: '', container_port: 80, host_port: 65536, range: 1, protocol: 'tcp' }] }, /port_mappings\.0\.host_port/],
    [{ container_id: ID, container_name: 'x', networks: [{ name: 'a', interface_name: 'eth0' }, { name: 'a', interface_name: 'eth1' }], network_info: {} }, /network a is given twice/],
  ];
  for (const [input, message] of bad) t.throws(() => readNetworkOptions(typeof input === 'string' ? input : JSON.stringify(input)), { name: 'NetavarkError', message });
});

const plan = (attach: Parameters<typeof networkOptions>[2], ports: Parameters<typeof networkOptions>[3] = []) => planAttachments(readNetworkOptions(JSON.stringify(networkOptions(ID, 'c1', attach, ports))));

t.test('a network becomes the chain of jailnet plugins with podman addresses as given', async (t) => {
  const { attachments } = plan([{ network: DUAL, ips: ['10.90.0.5', 'fd10:90::5'], mac: '02-AA-bb-cc-dd-01' }], [{ container_port: 80, host_port: 8080, range: 2 }]);
  const [a] = attachments;
  t.equal(a?.bridge, 'podman2');
  t.same(a?.list.plugins.map((p) => p.type), ['bridge', 'portmap', 'firewall']);
  t.match(a?.list.plugins[0], {
    bridge: 'podman2',
    isGateway: true,
    ipMasq: true,
    ipam: {
      type: 'static',
      addresses: [{ address: '10.90.0.5/24', gateway: '10.90.0.1' }, { address: 'fd10:90::5/64', gateway: 'fd10:90::1' }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.90.0.1' }, { dst: '::/0', gw: 'fd10:90::1' }],
    },
  });
  t.same(a?.capabilityArgs, {
    portMappings: [
      { hostPort: 8080, containerPort: 80, protocol: 'tcp' },
      { hostPort: 8081, containerPort: 81, protocol: 'tcp' },
    ],
    mac: '02:aa:bb:cc:dd:01',
  }, 'a range becomes one mapping a port; the MAC with colons');
});

t.test('internal, no_default_route, routes, isolation, mtu', async (t) => {
  const internal = plan([{ network: { ...WEB, internal: true }, ips: ['10.89.0.2'] }]).attachments[0]?.list.plugins[0];
  t.match(internal, { ipMasq: false, ipam: { routes: [] } }, 'internal: no NAT, no default route');
  const noDefault = plan([{ network: { ...WEB, options: { no_default_route: 'true' }, routes: [{ destination: '192.0.2.0/24', gateway: '10.89.0.254' }] }, ips: ['10.89.0.2'] }]).attachments[0]?.list.plugins[0];
  t.match(noDefault, { ipMasq: true, ipam: { routes: [{ dst: '192.0.2.0/24', gw: '10.89.0.254' }] } });
  t.equal((noDefault?.ipam as { routes: unknown[] }).routes.length, 1);
  for (const isolate of ['true', 'strict']) {
    t.match(plan([{ network: { ...WEB, options: { isolate, mtu: '1400' } }, ips: ['10.89.0.2'] }]).attachments[0]?.list.plugins, [{ mtu: 1400 }, {}, { type: 'firewall', ingressPolicy: 'same-bridge' }], `isolate=${isolate}`);
  }
  t.match(plan([{ network: WEB, ips: ['10.89.0.2'] }]).attachments[0]?.list.plugins[2], { ingressPolicy: 'open' });
});

t.test('bad input is refused before anything runs, in netavark shape', async (t) => {
  const v4 = [{ network: WEB, ips: ['10.89.0.2'] }];
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['no static ips', () => plan([{ network: WEB, ips: [] }]), /^no static ips provided$/],
    ['static ip outside the subnet', () => plan([{ network: WEB, ips: ['10.1.0.2'] }]), /no subnet of network web holds static ip 10\.1\.0\.2/],
    ['static ip of the wrong family', () => plan([{ network: WEB, ips: ['fd00::2'] }]), /no subnet of network web holds static ip fd00::2/],
    ['static ip with a prefix', () => plan([{ network: WEB, ips: ['10.89.0.2/24'] }]), /invalid static ip/],
    ['the gateway as static ip', () => plan([{ network: WEB, ips: ['10.89.0.1'] }]), /is the gateway/],
    ['host port 0', () => plan(v4, [{ container_port: 80, host_port: 0 }]), /port 0 is not a valid port/],
    ['container port 0', () => plan(v4, [{ container_port: 0, host_port: 80 }]), /port 0 is not a valid port/],
    ['a range past 65535', () => plan(v4, [{ container_port: 80, host_port: 65535, range: 2 }]), /goes past 65535/],
    ['a protocol', () => plan(v4, [{ container_port: 80, host_port: 80, protocol: 'icmp' }]), /invalid protocol icmp/],
    ['host_ip of the other family', () => plan(v4, [{ container_port: 80, host_port: 80, host_ip: 'fd00::1' }]), /host_ip fd00::1 is of a family/],
    ['host_ip not an address', () => plan(v4, [{ container_port: 80, host_port: 80, host_ip: 'localhost' }]), /invalid host_ip localhost/],
    ['a host port twice', () => plan(v4, [{ container_port: 80, host_port: 8088 }, { container_port: 81, host_port: 8087, range: 2 }]), /host port 8087\/tcp is mapped twice/],
    ['a bridge name with /', () => plan([{ network: { ...WEB, bridge: 'br/0' }, ips: ['10.89.0.2'] }]), /invalid network_interface/],
    ['a bridge name over IFNAMSIZ', () => plan([{ network: { ...WEB, bridge: 'podman0123456789' }, ips: ['10.89.0.2'] }]), /invalid network_interface/],
    ['an interface name with a space', () => plan([{ network: WEB, ips: ['10.89.0.2'], ifname: 'eth 0' }]), /invalid interface_name/],
    ['an interface name ..', () => plan([{ network: WEB, ips: ['10.89.0.2'], ifname: '..' }]), /invalid interface_name/],
    ['a network name with ..', () => plan([{ network: { ...WEB, name: '../x' }, ips: ['10.89.0.2'] }]), /invalid network name/],
    ['a network name with a space', () => plan([{ network: { ...WEB, name: 'a b' }, ips: ['10.89.0.2'] }]), /invalid network name/],
    ['a multicast MAC', () => plan([{ network: WEB, ips: ['10.89.0.2'], mac: '01:00:5e:00:00:01' }]), /invalid static mac/],
    ['an mtu', () => plan([{ network: { ...WEB, options: { mtu: '9x' } }, ips: ['10.89.0.2'] }]), /invalid mtu 9x/],
    ['isolate', () => plan([{ network: { ...WEB, options: { isolate: 'perhaps' } }, ips: ['10.89.0.2'] }]), /invalid value for option isolate/],
    ['a vlan', () => plan([{ network: { ...WEB, options: { vlan: '5' } }, ips: ['10.89.0.2'] }]), /unsupported bridge option vlan/],
    ['a route with host bits', () => plan([{ network: { ...WEB, routes: [{ destination: '10.0.0.1/8' }] }, ips: ['10.89.0.2'] }]), /invalid route destination 10\.0\.0\.1\/8/],
    ['a subnet with host bits', () => plan([{ network: { ...WEB, subnets: [{ subnet: '10.89.0.1/24' }] }, ips: ['10.89.0.2'] }]), /invalid subnet/],
    ['a gateway outside its subnet', () => plan([{ network: { ...WEB, subnets: [{ subnet: '10.89.0.0/24', gateway: '10.1.0.1' }] }, ips: ['10.89.0.2'] }]), /gateway 10\.1\.0\.1 is not inside/],
    ['IPv6 subnet without ipv6_enabled', () => plan([{ network: { ...DUAL, ipv6: false }, ips: ['10.90.0.5'] }]), /ipv6_enabled is false/],
    ['two networks one interface name', () => plan([{ network: WEB, ips: ['10.89.0.2'], ifname: 'eth0' }, { network: DUAL, ips: ['10.90.0.2'], ifname: 'eth0' }]), /interface_name eth0 is given to two networks/],
  ];
  for (const [what, attempt, message] of cases) t.throws(attempt, { name: 'NetavarkError', message }, what);

  const options = readNetworkOptions(JSON.stringify(networkOptions(ID, 'c1', v4)));
  t.throws(() => planAttachments({ ...options, network_info: {} }), { message: /no network_info for network web/ }, 'a network missing from network_info');
  t.throws(() => planAttachments({ ...options, container_id: 'a b' }), { message: /invalid container_id/ });
  t.throws(() => planAttachments({ ...options, network_info: { web: { ...options.network_info.web!, driver: 'macvlan' } } }), { message: /unsupported driver macvlan/ });
  t.throws(() => planAttachments({ ...options, network_info: { web: { ...options.network_info.web!, ipam_options: { driver: 'dhcp' } } } }), { message: /unsupported ipam driver dhcp/ });
  t.ok(new NetavarkError('x') instanceof Error);
  const bare = readNetworkOptions(JSON.stringify({ ...networkOptions(ID, 'c1', v4), networks: [{ name: 'web', interface_name: 'eth0' }] }));
  t.same(planAttachments(bare, { teardown: true, firewall: true }).attachments.length, 1, 'a teardown without static_ips is planned');
  t.throws(() => planAttachments(bare), { message: /^no static ips provided$/ }, 'a setup without them is not');
});
