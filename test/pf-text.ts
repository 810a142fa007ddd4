// The FreeBSD driver's renderer of packet-filter intents and its parser of pfctl output,
// as data: what pf is given, and what comes back from what pfctl prints.
import t from 'tap';
import { parseForwards, parseIsolated, renderIsolation, renderPublication } from '../src/hosts/freebsd/pf-text.js';
import { sortedForwards, type PortPublication } from '../src/hosts/packet-filter.js';

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
