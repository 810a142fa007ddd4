// The Linux driver's pf-to-nftables translation, as data and against the real nft parser
// (`nft -c`: checked by the kernel's tables code, nothing applied).
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { translateAnchor, PfTranslationError } from '../src/hosts/linux/pf-rules.js';
import { emptyState, flushAnchorScript, loadAnchorScript, parseNftTable, tableEntries, tableScript, withoutCovered } from '../src/hosts/linux/nft-table.js';
import { portmapRules } from '../src/plugins/portmap.js';
import { firewallRules } from '../src/plugins/firewall.js';
import { missingPrerequisite } from './helpers/linux.js';

const mappings = [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }];
const target = { bridge: 'cni-podman0', addresses: ['10.88.0.2', 'fd00::2'], subnets: ['10.88.0.0/16', 'fd00::/64'] };

t.test('portmap\'s rules become DNAT and masquerade rules, each carrying its pf line', async (t) => {
  const translated = translateAnchor(portmapRules(mappings, target, true), 'cni-rdr/x-eth0/');
  const rdr = translated.rules.filter((r) => r.hook === 'rdr');
  t.same(rdr.map((r) => r.nft), [
    'meta nfproto ipv4 fib daddr type local tcp dport 8080 dnat ip to 10.88.0.2:80',
    'meta nfproto ipv6 fib daddr type local tcp dport 8080 dnat ip6 to [fd00::2]:80',
  ]);
  t.same(rdr.map((r) => r.pf)[0], 'rdr pass inet proto tcp from any to self port = 8080 -> 10.88.0.2 port 80', 'the pf line as pfctl prints it');
  const nat = translated.rules.filter((r) => r.hook === 'nat').map((r) => r.nft);
  t.ok(nat.includes('oifname "cni-podman0" meta nfproto ipv4 ip saddr 127.0.0.0/8 ip daddr 10.88.0.2 tcp dport 80 masquerade'), 'localhost NAT');
  t.ok(nat.includes('oifname "cni-podman0" meta nfproto ipv4 ip saddr 10.88.0.0/16 ip daddr 10.88.0.2 tcp dport 80 masquerade'), 'hairpin NAT');
  t.same(translated.localnetInterfaces, ['cni-podman0'], 'the bridge needs route_localnet');
  const hostIP = translateAnchor(portmapRules([{ ...mappings[0]!, hostIP: '192.0.2.2' }], target, false), 'a/');
  t.same(hostIP.rules.map((r) => r.nft), ['meta nfproto ipv4 ip daddr 192.0.2.2 tcp dport 8080 dnat ip to 10.88.0.2:80'], 'a host IP instead of self, no NAT without snat');
});

t.test('firewall\'s isolation becomes forward rules on a set of the anchor', async (t) => {
  const rules = firewallRules([
    { subnets: ['10.1.0.0/24'], isolated: true },
    { subnets: ['10.2.0.0/24'], isolated: false },
  ]);
  const translated = translateAnchor(rules, 'jailnet-fw/');
  t.same(translated.tables.get('jailnet-fw/jailnet-pods'), ['10.1.0.0/24', '10.2.0.0/24']);
  t.same(translated.rules.map((r) => r.nft), [
    'meta nfproto ipv4 ip saddr 10.1.0.0/24 ip daddr 10.1.0.0/24 accept',
    'meta nfproto ipv4 ip saddr @jailnet-fw/jailnet-pods-v4 ip daddr 10.1.0.0/24 drop',
  ]);
});

t.test('anything else is refused, not guessed', async (t) => {
  for (const line of ['pass in all', 'rdr pass inet proto icmp from any to self port 1 -> 10.0.0.1 port 2', 'nat on em0 inet from any to any -> 1.2.3.4', 'block drop quick inet from <a b> to 10.0.0.0/8', 'rdr pass inet proto tcp from any to self; rm -rf / port 1 -> 10.0.0.1 port 2']) {
    t.throws(() => translateAnchor(line, 'x/'), PfTranslationError, line);
  }
});

t.test('table scripts: entries kept as added, covered prefixes left out, the table removed when empty', async (t) => {
  t.same(withoutCovered(['10.88.0.0/16', '10.88.1.0/24', '10.89.0.0/24', '10.89.0.0/24']), ['10.88.0.0/16', '10.89.0.0/24']);
  const added = tableScript(emptyState(), 'cni-nat', 'add', ['10.88.0.2', '10.88.0.3', 'fd00::2']);
  t.match(added, 'add element inet jailnet cni-nat-v4 { 10.88.0.2, 10.88.0.3 }');
  t.match(added, 'add element inet jailnet cni-nat-v6 { fd00::2 }');
  const state = { ...emptyState(), exists: true, sets: new Map([['cni-nat-v4', ['10.88.0.2']], ['cni-nat-v6', []]]) };
  t.same(tableEntries(state, 'cni-nat'), ['10.88.0.2']);
  t.equal(tableScript(state, 'cni-nat', 'delete', ['10.88.0.2']), 'delete table inet jailnet\n', 'the last entry takes the table with it');
  t.equal(flushAnchorScript(emptyState(), 'cni-rdr/none', 'nat'), '', 'flushing what does not exist changes nothing');
});

t.test('the scripts are valid nftables, and the table reads back', async (t) => {
  const missing = missingPrerequisite();
  if (missing) {
    t.fail(missing);
    return;
  }
  const load = loadAnchorScript(emptyState(), 'cni-rdr/x-eth0', translateAnchor(portmapRules(mappings, target, true), 'cni-rdr/x-eth0/'));
  const fw = loadAnchorScript(emptyState(), 'jailnet-fw', translateAnchor(firewallRules([{ subnets: ['10.1.0.0/24'], isolated: true }]), 'jailnet-fw/'));
  for (const [name, script] of [['portmap', load], ['firewall', fw], ['table', tableScript(emptyState(), 'cni-nat', 'add', ['10.88.0.2'])]] as const) {
    const check = spawnSync('nft', ['-c', '-f', '-'], { input: script, encoding: 'utf8' });
    t.equal(check.status, 0, `${name}: ${check.stderr}`);
  }
  const state = parseNftTable(JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6' } },
      { chain: { family: 'inet', table: 'jailnet', name: 'rdr/cni-rdr/x-eth0' } },
      { rule: { chain: 'rdr/cni-rdr/x-eth0', comment: 'rdr pass inet proto tcp from any to self port = 8080 -> 10.88.0.2 port 80' } },
      { set: { name: 'cni-nat-v4', elem: ['10.88.0.2', { prefix: { addr: '10.89.0.0', len: 24 } }] } },
    ],
  }));
  t.same(state.chains, ['rdr/cni-rdr/x-eth0']);
  t.same(tableEntries(state, 'cni-nat'), ['10.88.0.2', '10.89.0.0/24']);
});
