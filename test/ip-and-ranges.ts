// Address parsing and formatting as Go prints them (lease file names depend on it),
// and the reference allocator's candidate order.
import t from 'tap';
import { formatIP, parseIP, parsePrefix } from '../src/ipam/ip.js';
import { canonicalizeRangeSet, candidates } from '../src/ipam/range.js';

t.test('addresses print as Go prints them', async (t) => {
  const cases: Array<[string, string]> = [
    ['10.0.0.1', '10.0.0.1'],
    ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0001:0000:0000:0000:0001', '2001:db8:0:1::1'],
    ['fd00:1:0:1:0:1:0:1', 'fd00:1:0:1:0:1:0:1'],
    ['::', '::'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ];
  for (const [input, expected] of cases) t.equal(formatIP(parseIP(input)!), expected, input);
  for (const bad of ['010.0.0.1', '1.2.3', '256.0.0.1', '1::2::3', 'fd00::g', '1.2.3.4.5', '']) {
    t.equal(parseIP(bad), null, `rejects ${JSON.stringify(bad)}`);
  }
  t.equal(parsePrefix('10.1.0.0/33'), null, 'a prefix longer than the family is rejected');
  t.same(parsePrefix('10.1.0.5/24'), { ip: parseIP('10.1.0.5'), bits: 24 }, 'host bits are kept for the range check');
});

t.test('range defaults and errors match the reference', async (t) => {
  const [v4] = canonicalizeRangeSet([{ subnet: '10.2.0.0/24' }]);
  t.equal(formatIP(v4!.rangeStart), '10.2.0.1');
  t.equal(formatIP(v4!.rangeEnd), '10.2.0.254', 'IPv4 ranges stop before the broadcast address');
  t.equal(formatIP(v4!.gateway), '10.2.0.1');
  const [v6] = canonicalizeRangeSet([{ subnet: 'fd02::/120' }]);
  t.equal(formatIP(v6!.rangeEnd), 'fd02::ff', 'IPv6 ranges include the last address');
  t.throws(() => canonicalizeRangeSet([{ subnet: '10.2.0.0/24' }, { subnet: 'fd02::/64' }]), /mixed address families/);
  t.throws(() => canonicalizeRangeSet([{ subnet: '10.2.0.0/24' }, { subnet: '10.2.0.0/25' }]), /overlap/);
  t.throws(() => canonicalizeRangeSet([{ subnet: '10.2.0.0/24', rangeStart: '10.3.0.1' }]), /RangeStart 10\.3\.0\.1 not in network/);
  t.throws(() => canonicalizeRangeSet([]), /empty range set/);
});

t.test('candidates: round-robin after the last reservation, gateways skipped, each once', async (t) => {
  const set = canonicalizeRangeSet([
    { subnet: '10.3.0.0/29', gateway: '10.3.0.3' },
    { subnet: '10.4.0.0/30' },
  ]);
  const order = (last?: string) => [...candidates(set, last ? parseIP(last)! : undefined)].map((c) => formatIP(c.ip));
  t.same(order(), ['10.3.0.1', '10.3.0.2', '10.3.0.4', '10.3.0.5', '10.3.0.6', '10.4.0.2']);
  t.same(order('10.3.0.5'), ['10.3.0.6', '10.4.0.2', '10.3.0.1', '10.3.0.2', '10.3.0.4', '10.3.0.5']);
  t.same(order('10.3.0.6'), ['10.4.0.2', '10.3.0.1', '10.3.0.2', '10.3.0.4', '10.3.0.5', '10.3.0.6'],
    'the walk ends after one round even when it began at the end of a range');
  t.same(order('10.4.0.2'), ['10.3.0.1', '10.3.0.2', '10.3.0.4', '10.3.0.5', '10.3.0.6', '10.4.0.2']);
  t.same(order('192.0.2.1'), order(), 'a last reservation outside the set starts from the beginning');
});
