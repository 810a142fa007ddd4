// `netavark create` (podman 6) as data: netavark's defaults (a free subnet from the pools,
// podmanN bridges that avoid names and interfaces in use, the gateway as first address, a
// ULA /64 for IPv6, host-local) and its errors, with `network already exists NAME` word for
// word (libnetwork matches it); then once through the process on the simulated FreeBSD host.
import t from 'tap';
import { completeNetwork, freeSubnet, readCreateInput } from '../dist/netavark/create.js';
import { parsePrefix, type Prefix } from '../dist/ipam/ip.js';
import { netavark } from './helpers/netavark.js';
import { podHost } from './helpers/podnet.js';

const ID = 'c0'.repeat(32);
const NOW = new Date('2026-12-07T10:00:00Z');

function input(network: Record<string, unknown>, used: Partial<{ interfaces: string[]; names: Record<string, string>; subnets: string[] }> = {}) {
  return {
    network: { name: 'web', id: ID, driver: 'bridge', created: '0001-01-01T00:00:00Z', ipv6_enabled: false, internal: false, dns_enabled: true, ...network },
    used: { interfaces: ['podman0'], names: { podman: '2f'.repeat(32) }, subnets: ['10.88.0.0/16', '10.89.0.0/24'], ...used },
    options: { subnet_pools: [{ base: '10.89.0.0/16', size: 24 }, { base: '10.90.0.0/15', size: 24 }], default_interface_name: 'podman', check_used_subnets: true },
  };
}
const complete = (network: Record<string, unknown>, used = {}, links: string[] = []) => completeNetwork(readCreateInput(JSON.stringify(input(network, used))), links, NOW);

t.test('defaults', async (t) => {
  t.match(complete({}, {}, ['podman1']), {
    name: 'web',
    id: ID,
    network_interface: 'podman2',
    subnets: [{ subnet: '10.89.1.0/24', gateway: '10.89.1.1' }],
    created: '2026-12-07T10:00:00.000Z',
    ipam_options: { driver: 'host-local' },
    dns_enabled: true,
  }, 'the first free subnet, the first podmanN neither used nor on the host, the first address as gateway');
  const dual = complete({ ipv6_enabled: true });
  t.equal((dual.subnets as Array<{ subnet: string }>).length, 2);
  t.match((dual.subnets as Array<{ subnet: string; gateway: string }>)[1], { subnet: /^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/, gateway: /^fd.*::1$/ }, 'a ULA /64 for IPv6');
  t.match(complete({ subnets: [{ subnet: '192.168.55.0/24' }] }), { subnets: [{ subnet: '192.168.55.0/24', gateway: '192.168.55.1' }] });
  t.match(complete({ options: { 'com.docker.network.bridge.name': 'br-web', 'com.docker.network.driver.mtu': '1400' } }), { network_interface: 'br-web', options: { mtu: '1400' } }, "docker's options mapped");
  t.match(complete({ ipam_options: { driver: 'none' } }), { dns_enabled: false, subnets: [] }, 'ipam none: DNS off, no subnet');
  const used: Prefix[] = ['10.89.0.0/24', '10.89.1.0/24'].map((s) => parsePrefix(s) as Prefix);
  t.equal(freeSubnet([{ base: '10.89.0.0/16', size: 24 }], used), '10.89.2.0/24');
  t.equal(freeSubnet([{ base: '10.89.0.0/23', size: 24 }], used), undefined, 'a full pool');
});

t.test("netavark's errors", async (t) => {
  const cases: Array<[Record<string, unknown>, Record<string, unknown>, RegExp]> = [
    [{ name: 'podman' }, {}, /^network already exists podman$/],
    [{ name: 'a b' }, {}, /invalid network name/],
    [{ id: 'xyz' }, {}, /invalid network id/],
    [{ driver: 'macvlan' }, {}, /unsupported driver macvlan/],
    [{ subnets: [{ subnet: '10.88.5.0/24' }] }, {}, /subnet 10\.88\.5\.0\/24 is already used/],
    [{ subnets: [{ subnet: '10.200.0.0/24', gateway: '10.201.0.1' }] }, {}, /gateway 10\.201\.0\.1 is not in subnet/],
    [{ network_dns_servers: ['1.1.1.1'], dns_enabled: false }, {}, /cannot set network_dns_servers/],
    [{ ipam_options: { driver: 'magic' } }, {}, /unsupported ipam driver magic/],
    [{ network_interface: 'podman0' }, {}, /bridge name podman0 already in use/],
    [{ options: { mtu: 'big' } }, {}, /invalid mtu big/],
    [{ routes: [{ destination: '10.0.0.1/8' }] }, {}, /invalid route destination/],
    [{}, { subnets: ['10.89.0.0/16', '10.90.0.0/15'] }, /could not find free subnet/],
  ];
  for (const [network, used, message] of cases) t.throws(() => complete(network, used), { name: 'NetavarkError', message }, String(message));
  t.throws(() => readCreateInput(JSON.stringify({ network: input({}).network })), { message: /missing field `used`/ });
});

t.test('create through the process, on the simulated FreeBSD host', async (t) => {
  const h = await podHost(t);
  const made = await netavark(['create'], h.env, JSON.stringify(input({}, { interfaces: [] })));
  t.equal(made.code, 0, made.stdout);
  t.match(made.json, { name: 'web', network_interface: 'podman0', subnets: [{ subnet: '10.89.1.0/24', gateway: '10.89.1.1' }] });
  t.match(made.stdout, /^\{.*\}\n$/, 'one compact document');
  const taken = await netavark(['create'], h.env, JSON.stringify(input({ name: 'podman' })));
  t.same({ code: taken.code, json: taken.json }, { code: 1, json: { error: 'network already exists podman' } });
});
