// The FreeBSD driver's renderer of packet-filter intents and its parser of pfctl output,
// as data: what pf is given, and what comes back from what pfctl prints.
import t from 'tap';
import { parseForwards, parseIsolated, renderIsolation, renderPublication } from '../src/hosts/freebsd/pf-text.js';
import { IntentError, sortedForwards, validateAddresses, validatePolicy, validatePublication, type PortPublication } from '../src/hosts/packet-filter.js';

const publication: PortPublication = {
  owner: { containerId: 'c1', ifname: 'eth0' },
  forwards: [
    { protocol: 'tcp', hostPort: 8080, podAddress: '10.88.0.2', podPort: 80 },
    { protocol: 'udp', hostPort: 5353, hostIP: '192.0.2.2', podAddress: '10.88.0.2', podPort: 53 },
  ],
  hairpin: { bridge: 'cni-podman0', subnets: ['10.88.0.0/16'] },
};

t.test('a publication is nat rules first, then rdr rules (pf.conf order)', async (t) => {
  t.equal(
    renderPublication(publication),
    [
      'nat on cni-podman0 inet proto tcp from (lo0) to 10.88.0.2 port 80 -> (cni-podman0)',
      'nat on cni-podman0 inet proto tcp from 10.88.0.0/16 to 10.88.0.2 port 80 -> (cni-podman0)',
      'nat on cni-podman0 inet proto udp from (lo0) to 10.88.0.2 port 53 -> (cni-podman0)',
      'nat on cni-podman0 inet proto udp from 10.88.0.0/16 to 10.88.0.2 port 53 -> (cni-podman0)',
      'rdr pass inet proto tcp from any to self port 8080 -> 10.88.0.2 port 80',
      'rdr pass inet proto udp from any to 192.0.2.2 port 5353 -> 10.88.0.2 port 53',
      '',
    ].join('\n'),
  );
  t.equal(renderPublication({ ...publication, hairpin: undefined }).split('\n').filter((l) => l.startsWith('nat')).length, 0, 'no nat rules without hairpin');
  t.equal(renderPublication({ ...publication, forwards: [] }), '', 'nothing to publish is an empty anchor');
});

t.test('forwards read back from pfctl -P -s nat, `self` expanded into one rule per local address', async (t) => {
  const printed = [
    'nat on cni-podman0 inet proto tcp from (lo0) to 10.88.0.2 port = 80 -> (cni-podman0) round-robin',
    'rdr pass inet proto tcp from any to 127.0.0.1 port = 8080 -> 10.88.0.2 port 80',
    'rdr pass inet proto tcp from any to 192.0.2.1 port = 8080 -> 10.88.0.2 port 80',
    'rdr pass inet proto udp from any to 192.0.2.2 port = 5353 -> 10.88.0.2 port 53',
  ];
  t.same(sortedForwards(parseForwards(printed)), sortedForwards(publication.forwards));
  t.same(parseForwards(['rdr pass inet proto tcp from any to self port = http -> 10.0.0.1 port 80']), [], 'a service name is not a port: pfctl is read with -P');
});

t.test('isolation renders its table and rules and reads back its subnets', async (t) => {
  const text = renderIsolation({ podSubnets: ['10.2.0.0/24', '10.1.0.0/24'], isolated: ['10.1.0.0/24'] });
  t.equal(
    text,
    'table <jailnet-pods> { 10.1.0.0/24, 10.2.0.0/24 }\npass quick inet from 10.1.0.0/24 to 10.1.0.0/24\nblock drop quick inet from <jailnet-pods> to 10.1.0.0/24\n',
  );
  t.same(parseIsolated(['pass quick inet from 10.1.0.0/24 to 10.1.0.0/24 flags S/SA keep state', 'block drop quick inet from <jailnet-pods> to 10.1.0.0/24']), ['10.1.0.0/24']);
  t.equal(renderIsolation({ podSubnets: ['10.2.0.0/24'], isolated: [] }), '', 'no isolated subnet, no rules');
});

t.test('intents are checked before any driver renders them: nothing but what they claim reaches pf or nft text', async (t) => {
  const forward = publication.forwards[0]!;
  const bad: Array<[string, PortPublication]> = [
    ['a rule smuggled in an address', { ...publication, forwards: [{ ...forward, podAddress: '10.88.0.2 port 80\npass all' }] }],
    ['a host address of the other family', { ...publication, forwards: [{ ...forward, hostIP: '2001:db8::1' }] }],
    ['a port out of range', { ...publication, forwards: [{ ...forward, hostPort: 70000 }] }],
    ['an unknown protocol', { ...publication, forwards: [{ ...forward, protocol: 'icmp' as never }] }],
    ['a bridge name that closes a quote', { ...publication, hairpin: { bridge: 'br0"; flush ruleset', subnets: [] } }],
    ['a subnet that is not one', { ...publication, hairpin: { bridge: 'br0', subnets: ['10.0.0.0/33'] } }],
  ];
  for (const [what, p] of bad) t.throws(() => validatePublication(p), IntentError, what);
  t.doesNotThrow(() => validatePublication(publication), 'a sound publication passes');
  t.throws(() => validatePolicy({ podSubnets: ['any'], isolated: [] }), IntentError, 'a policy with a word for a subnet');
  t.throws(() => validateAddresses(['10.0.0.1', '-F']), IntentError, 'an option for an address');
});
