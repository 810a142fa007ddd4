// The Linux driver's renderer of packet-filter intents, as data, and for real in a
// network namespace this test makes: every transaction is applied by nft, and what the
// table holds reads back structurally as the intents that made it.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import {
  emptyState,
  forwardsOf,
  isolatedOf,
  isolationEdits,
  isolationRules,
  masqueradedOf,
  masqueradeEdits,
  NO_EDITS,
  snatRules,
  parseNftTable,
  publishEdits,
  dnatRules,
  transaction,
  unpublishEdits,
  withoutCovered,
  type NftState,
} from '../src/hosts/linux/nft-table.js';
import { sortedForwards, type PortPublication } from '../src/hosts/packet-filter.js';
import { missingPrerequisite, sh } from './helpers/linux.js';

const publication: PortPublication = {
  owner: { containerId: 'ctr1', ifname: 'eth0' },
  forwards: [
    { protocol: 'tcp', hostPort: 8080, podAddress: '10.88.0.2', podPort: 80 },
    { protocol: 'tcp', hostPort: 8080, podAddress: 'fd00::2', podPort: 80 },
    { protocol: 'udp', hostPort: 5353, hostIP: '192.0.2.2', podAddress: '10.88.0.2', podPort: 53 },
  ],
  hairpin: { bridge: 'cni-podman0', subnets: ['10.88.0.0/16', 'fd00::/64'] },
};

t.test('a publication renders as DNAT rules and the bridge\'s source NAT', async (t) => {
  t.same(dnatRules(publication.forwards), [
    'meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.88.0.2:80',
    'meta nfproto ipv6 fib daddr type local tcp dport 8080 dnat ip6 to [fd00::2]:80',
    'meta nfproto ipv4 ip daddr 192.0.2.2 udp dport 5353 dnat ip to 10.88.0.2:53',
  ]);
  const nat = snatRules(publication);
  t.ok(nat.includes('oifname "cni-podman0" meta nfproto ipv4 ip saddr 127.0.0.0/8 ip daddr 10.88.0.2 tcp dport 80 masquerade'), 'localhost NAT');
  t.ok(nat.includes('oifname "cni-podman0" meta nfproto ipv4 ip saddr 10.88.0.0/16 ip daddr 10.88.0.2 tcp dport 80 masquerade'), 'hairpin NAT');
  t.ok(nat.includes('oifname "cni-podman0" meta nfproto ipv6 ip6 saddr ::1 ip6 daddr fd00::2 tcp dport 80 masquerade'), 'IPv6 localhost NAT');
  t.same(snatRules({ ...publication, hairpin: undefined }), [], 'no source NAT without hairpin (snat: false)');

});

t.test('isolation renders as accept within a subnet and drop from the other pods', async (t) => {
  t.same(isolationRules({ podSubnets: ['10.1.0.0/24', '10.2.0.0/24'], isolated: ['10.1.0.0/24'] }), [
    'meta nfproto ipv4 ip saddr 10.1.0.0/24 ip daddr 10.1.0.0/24 accept',
    'meta nfproto ipv4 ip saddr @jailnet-pods-v4 ip daddr 10.1.0.0/24 drop',
  ]);
  t.same(isolationEdits({ podSubnets: [], isolated: [] }).chains.get('isolation'), [], 'an empty policy empties the chain');
});

t.test('transactions: the table goes with the last of jailnet\'s state, and nothing to do is no script', async (t) => {
  t.same(withoutCovered(['10.88.0.0/16', '10.88.1.0/24', '10.89.0.0/24', '10.89.0.0/24']), ['10.88.0.0/16', '10.89.0.0/24']);
  t.equal(transaction(emptyState(), unpublishEdits('x-eth0')), '', 'removing what does not exist changes nothing');
  const script = transaction(emptyState(), publishEdits('ctr1-eth0', publication));
  t.match(script, 'add rule inet jailnet prerouting jump dnat/ctr1-eth0');
  t.match(script, 'add rule inet jailnet postrouting jump snat/ctr1-eth0');
  const added = transaction(emptyState(), masqueradeEdits(emptyState(), ['10.88.0.2', '10.88.0.3', 'fd00::2'], []));
  t.match(added, 'add element inet jailnet cni-nat-v4 { 10.88.0.2, 10.88.0.3 }');
  t.match(added, 'add element inet jailnet cni-nat-v6 { fd00::2 }');
  const one: NftState = { ...emptyState(), exists: true, sets: new Map([['cni-nat-v4', ['10.88.0.2']], ['cni-nat-v6', []]]) };
  t.same(masqueradedOf(one), ['10.88.0.2']);
  t.equal(transaction(one, masqueradeEdits(one, [], ['10.88.0.2'])), 'delete table inet jailnet\n', 'the last entry takes the table with it');
  t.equal(transaction(one, NO_EDITS), '', 'no edit, no transaction: the base chains are not rebuilt for nothing');
});

t.test('for real in a scratch namespace: applied by nft, read back as the intents', async (t) => {
  const missing = missingPrerequisite();
  if (missing) {
    t.fail(missing);
    return;
  }
  const ns = `jnnft${process.pid}`;
  sh('ip', ['netns', 'add', ns]);
  t.teardown(() => void sh('ip', ['netns', 'del', ns], { allowFailure: true }));
  const read = (): NftState => {
    const listed = sh('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'inet', 'jailnet'], { allowFailure: true });
    return listed.code === 0 ? parseNftTable(listed.stdout) : emptyState();
  };
  const apply = (script: string) => {
    if (script === '') return;
    const result = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, encoding: 'utf8' });
    t.equal(result.status, 0, `nft took the transaction ${result.stderr}`);
  };
  apply(transaction(read(), publishEdits('ctr1-eth0', publication)));
  apply(transaction(read(), isolationEdits({ podSubnets: ['10.1.0.0/24', '10.2.0.0/24'], isolated: ['10.1.0.0/24'] })));
  apply(transaction(read(), masqueradeEdits(read(), ['10.88.0.2', 'fd00::2'], [])));
  t.same(sortedForwards(forwardsOf(read(), 'ctr1-eth0')), sortedForwards(publication.forwards), 'the forwards read back from nft\'s JSON');
  t.same(isolatedOf(read()), ['10.1.0.0/24']);
  t.same(masqueradedOf(read()).sort(), ['10.88.0.2', 'fd00::2']);
  const second = { ...publication, owner: { containerId: 'ctr2', ifname: 'eth0' }, forwards: [{ protocol: 'tcp' as const, hostPort: 9090, podAddress: '10.88.0.3', podPort: 90 }] };
  apply(transaction(read(), publishEdits('ctr2-eth0', second)));
  apply(transaction(read(), unpublishEdits('ctr1-eth0')));
  t.same(forwardsOf(read(), 'ctr1-eth0'), [], 'one publication removed');
  t.same(forwardsOf(read(), 'ctr2-eth0'), second.forwards, 'the other one kept');
  apply(transaction(read(), unpublishEdits('ctr2-eth0')));
  apply(transaction(read(), isolationEdits({ podSubnets: [], isolated: [] })));
  apply(transaction(read(), masqueradeEdits(read(), [], ['10.88.0.2', 'fd00::2'])));
  t.equal(read().exists, false, 'with nothing of jailnet\'s left, the table is gone');
});
