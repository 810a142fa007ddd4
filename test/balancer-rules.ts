// The load balancer as data: ipvsadm's grammar and messages, the rules' semantics and the
// 20,000-rule limit, restore's contract (runtime-network-api.md §1.7), the -Ln and -Sn
// layouts (ipvsadm.c print_title/print_service_entry), the nft transaction rendered for
// each change (linux/nft-balancer.ts) and the pf text (freebsd/lb-text.ts).
import t from 'tap';
import { parseIpvsadm, splitParameters } from '../src/balancer/ipvsadm.js';
import { connectionKey, listText, saveText, timeoutText } from '../src/balancer/listing.js';
import { restoreRules } from '../src/balancer/restore.js';
import { applyChange, emptyRules, ruleCount, RULE_LIMIT, type BalancerRules, type RuleChange } from '../src/balancer/rules.js';
import { parseCleanup } from '../src/runtime-net/balancer.js';
import { checkPfRules, lbAnchorText, lbMainRuleset, pfBalancerDrift } from '../src/hosts/freebsd/lb-text.js';
import { parsePfStates } from '../src/hosts/freebsd/parse.js';
import { balancerScript, nftBalancerDrift } from '../src/hosts/linux/nft-balancer.js';
import { emptyState, type NftState } from '../src/hosts/linux/nft-table.js';

const parse = (text: string) => parseIpvsadm(splitParameters(text));
const apply = (rules: BalancerRules, ...lines: string[]) => lines.reduce((r, l) => applyChange(r, parse(l) as RuleChange), rules);
const svc = { protocol: 'tcp' as const, address: '10.10.11.12', port: 100 };

t.test('ipvsadm grammar: commands, long forms, clusters, defaults', async (t) => {
  t.same(parse('-A -t 10.10.11.12:100 -s rr -p 3000'), { kind: 'add-service', service: svc, scheduler: 'rr', persistence: 3000 });
  t.same(parse('--add-service --tcp-service=10.10.11.12:100 --scheduler wrr'), { kind: 'add-service', service: svc, scheduler: 'wrr' });
  t.same(parse('-A -t 10.10.11.12:100 -s rr -p'), { kind: 'add-service', service: svc, scheduler: 'rr', persistence: 360 }, 'a bare -p is ipvsadm’s 360 s');
  t.same(parse('-A -u 10.10.11.12:100 -s sh -p 0'), { kind: 'add-service', service: { ...svc, protocol: 'udp' }, scheduler: 'sh', persistence: 0 });
  t.same(parse('-a -t 10.10.11.12:100 -r 172.16.0.1 -w 0'), { kind: 'add-server', service: svc, server: { address: '172.16.0.1', port: 100 }, weight: 0 }, 'the real port defaults to the service’s');
  t.same(parse('-d -t 10.10.11.12:100 -r 172.16.0.1:80'), { kind: 'delete-server', service: svc, server: { address: '172.16.0.1', port: 80 } });
  t.same(parse('-Ln'), { kind: 'list', numeric: true, timeouts: false });
  t.same(parse('--list -n -t 10.10.11.12:100'), { kind: 'list', numeric: true, timeouts: false, service: svc });
  t.same(parse('-L --timeout'), { kind: 'list', numeric: false, timeouts: true });
  t.same(parse('--set 900 0 300'), { kind: 'set-timeouts', timeouts: { tcp: 900, tcpfin: 0, udp: 300 } });
  t.same(parse('-C'), { kind: 'clear' });
  t.same(parse('-S -n'), { kind: 'save', numeric: true });
});

t.test('ipvsadm grammar: every refusal with its message, anchored', async (t) => {
  const refusals: Array<[string, RegExp]> = [
    ['-A -t 10.10.11.300:100 -s rr', /^illegal virtual server address\[:port\] specified$/],
    ['-A -t 10.10.11.12:0 -s rr', /^illegal virtual server address\[:port\] specified$/],
    ['-A -t 10.10.11.12:65536 -s rr', /^illegal virtual server address\[:port\] specified$/],
    ['-A -t 10.10.11.12 -s rr', /^illegal virtual server address\[:port\] specified$/],
    ['-A -t [fd00::1]:80 -s rr', /^illegal virtual server/],
    ['-A -t 10.10.11.12:100', /You need to supply the 'scheduler' option for the 'add-service' command/],
    ['-A -t 10.10.11.12:100 -s RR', /Scheduler or persistence engine not found/],
    ['-A -t 10.10.11.12:100 -s rr -p 2678401', /invalid timeout value `2678401' specified/],
    ['-a -t 10.10.11.12:100 -r 172.16.0.1:80 -w 65536', /^illegal weight specified$/],
    ['-a -t 10.10.11.12:100 -r 172.16.0.1:80 -g', /direct routing/],
    ['-a -t 10.10.11.12:100 -r 172.16.0.1:0', /^illegal real server address\[:port\] specified$/],
    ['-a -t 10.10.11.12:100', /You need to supply the 'real-server' option for the 'add-server' command/],
    ['-D -t 10.10.11.12:100 -s rr', /Illegal 'scheduler' option with the 'delete-service' command/],
    ['-A -E -t 10.10.11.12:100', /multiple commands specified/],
    ['-A -t 10.10.11.12:100 -t 10.10.11.12:101 -s rr', /multiple 'service-address' options specified/],
    ['-A -t 10.10.11.12:100 -s rr extra', /unexpected argument extra/],
    ['-L junk', /unexpected argument junk/],
    ['--set 1 2', /--set option requires 3 timeout values/],
    ['--set 1 2 1296001', /invalid timeout value `1296001' specified/],
    ['-A -t 10.10.11.12:100 -s rr --bogus', /--bogus: unknown option/],
    ['-f 1 -A -s rr', /firewall-mark/],
    ['', /no command given/],
    ['-R', /--restore -/],
  ];
  for (const [text, message] of refusals) t.throws(() => parse(text), message, JSON.stringify(text));
});

t.test("the rules' semantics: ipvsadm's errors, -p 0, edit keeps what it is not told", async (t) => {
  let rules = apply(emptyRules(), '-A -t 10.10.11.12:100 -s rr -p 30', '-a -t 10.10.11.12:100 -r 172.16.0.1:80', '-a -t 10.10.11.12:100 -r 172.16.0.2:80 -w 3');
  t.equal(ruleCount(rules), 3);
  t.throws(() => apply(rules, '-A -t 10.10.11.12:100 -s rr'), /^Service already exists$/);
  t.throws(() => apply(rules, '-a -t 10.10.11.12:100 -r 172.16.0.1:80'), /^Destination already exists$/);
  t.throws(() => apply(rules, '-a -t 10.10.11.12:101 -r 172.16.0.1:80'), /^Service not defined$/);
  t.throws(() => apply(rules, '-e -t 10.10.11.12:100 -r 172.16.0.9:80'), /^No such destination$/);
  t.throws(() => apply(rules, '-E -t 10.10.11.12:101 -s rr'), /^No such service$/);
  t.throws(() => apply(rules, '-D -t 10.10.11.12:101'), /^No such service$/);
  rules = apply(rules, '-E -t 10.10.11.12:100 -s wrr');
  t.match(rules.services[0], { scheduler: 'wrr', persistence: 30 }, 'an edit without -p keeps the persistence');
  t.notOk('persistence' in (apply(rules, '-E -t 10.10.11.12:100 -p 0').services[0] ?? {}), '-p 0 ends it');
  t.same(apply(rules, '-e -t 10.10.11.12:100 -r 172.16.0.2:80').services[0]?.servers[1], { address: '172.16.0.2', port: 80, weight: 3 }, 'an edit without -w keeps the weight');
  t.equal(ruleCount(apply(rules, '-d -t 10.10.11.12:100 -r 172.16.0.1:80')), 2);
  t.same(apply(rules, '-C').services, []);
  t.same(apply(rules, '--set 0 60 0', '--set 100 0 0').timeouts, { tcp: 100, tcpfin: 60, udp: 0 }, 'a 0 in --set keeps that timeout');
});

const batchOf = (services: number, serversEach: number) => {
  const lines: string[] = [];
  for (let i = 0; i < services; i++) {
    const vip = `10.${100 + Math.floor(i / 250)}.${i % 250}.1:80`;
    lines.push(`-A -t ${vip} -s rr`);
    for (let j = 0; j < serversEach; j++) lines.push(`-a -t ${vip} -r 172.16.${j}.${(i % 250) + 1}:8080 -m -w 1`);
  }
  return `${lines.join('\n')}\n`;
};

t.test('the 20,000-rule limit: a restore of 5,000 × (1 + 3), and the 20,001st rule refused', async (t) => {
  const full = restoreRules(emptyRules(), batchOf(5000, 3), { replace: false });
  t.equal(full.services.length, 5000);
  t.equal(ruleCount(full), RULE_LIMIT);
  t.throws(() => apply(full, '-A -t 10.200.0.1:80 -s rr'), /^rules exceed limit, should clear first$/);
  t.throws(() => apply(full, '-a -t 10.100.0.1:80 -r 172.16.9.9:80'), /^rules exceed limit, should clear first$/);
  t.throws(() => restoreRules(emptyRules(), `${batchOf(5000, 3)}-A -t 10.200.0.1:80 -s rr\n`, { replace: false }), /^Rules exceed limit 20000$/);
  const script = balancerScript(emptyRules(), full, (x) => x);
  t.equal(script.split('\n').filter((l) => l.startsWith('add element ip jailnet-lb services ')).length, 5000, 'one transaction declares all 5,000 services');
});

t.test("restore: the contract's refusals, each changing nothing", async (t) => {
  const existing = apply(emptyRules(), '-A -t 10.10.11.12:100 -s rr');
  const refusals: Array<[string, RegExp, BalancerRules?]> = [
    ['', /^Rule file has no effective rule\.$/],
    ['-A -t 10.10.11.12:100 -s rr\n\n', /^line 2: a blank line is not a rule$/],
    ['# saved\n-A -t 10.10.11.12:100 -s rr\n', /^line 1: a comment is not a rule$/],
    ['-A -t 10.10.11.12:100 -s rr\n-a -t 10.10.11.12:100 -r 172.16.0.1:80\n', /^line 2: a real server needs -m here/],
    ['-A -t 10.10.11.12:100 -s rr\n-A -t 10.10.11.12:100 -s rr\n', /^line 2: Service already exists$/],
    ['-L -n\n', /^line 1: --list is not a rule$/],
    ['-A -t 10.10.11.12:101 -s rr\n', /^exist some rules in system, should clear first$/, existing],
  ];
  for (const [text, message, current] of refusals) t.throws(() => restoreRules(current ?? emptyRules(), text, { replace: false }), message, JSON.stringify(text));
  t.same(restoreRules(existing, 'ipvsadm -A -t 10.10.11.12:101 -s rr\r\n', { replace: true }).services.map((s) => s.port), [101], '--replace; a leading "ipvsadm" and CRLF are taken');
});

t.test('-Ln and -Sn layouts, in libipvs order', async (t) => {
  const rules = apply(emptyRules(), '-A -u 10.0.0.1:53 -s rr', '-A -t 10.10.11.12:100 -s rr -p 3000', '-a -t 10.10.11.12:100 -r 172.16.0.2:80 -w 2', '-a -t 10.10.11.12:100 -r 172.16.0.1:80', '-A -t 9.0.0.1:80 -s sh');
  const counts = new Map([[connectionKey(svc, { address: '172.16.0.1', port: 80 }), { active: 3, inactive: 12 }]]);
  t.equal(
    listText(rules, counts),
    [
      'IP Virtual Server version 1.2.1 (size=4096)',
      'Prot LocalAddress:Port Scheduler Flags',
      '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn',
      'TCP  9.0.0.1:80 sh',
      'TCP  10.10.11.12:100 rr persistent 3000',
      '  -> 172.16.0.1:80                Masq    1      3          12        ',
      '  -> 172.16.0.2:80                Masq    2      0          0         ',
      'UDP  10.0.0.1:53 rr',
      '',
    ].join('\n'),
  );
  t.equal(saveText(rules), '-A -t 9.0.0.1:80 -s sh\n-A -t 10.10.11.12:100 -s rr -p 3000\n-a -t 10.10.11.12:100 -r 172.16.0.1:80 -m -w 1\n-a -t 10.10.11.12:100 -r 172.16.0.2:80 -m -w 2\n-A -u 10.0.0.1:53 -s rr\n');
  t.same(restoreRules(emptyRules(), saveText(rules), { replace: false }).services.length, 3, 'what --save prints, --restore takes');
  t.equal(timeoutText({ tcp: 900, tcpfin: 120, udp: 300 }), 'Timeout (tcp tcpfin udp): 900 120 300\n');
});

t.test('cleanup parameters: anchored, IPv4, tcp or udp', async (t) => {
  t.same(parseCleanup('--orig-dst 10.0.0.1 --protonum tcp'), { address: '10.0.0.1', protocol: 'tcp' });
  t.same(parseCleanup('-p udp -d 10.0.0.1'), { address: '10.0.0.1', protocol: 'udp' });
  for (const bad of ['--orig-dst 10.0.0.1', '--orig-dst 10.0.0.300 --protonum tcp', '--orig-dst 10.0.0.1 --protonum icmp', '--orig-dst 10.0.0.1 --protonum tcp extra', 'x --orig-dst 10.0.0.1 --protonum tcp']) {
    t.throws(() => parseCleanup(bad), /./, bad);
  }
});

t.test('nft rendering: the transaction for each kind of change', async (t) => {
  const fill = (x: { tcp: number; tcpfin: number; udp: number }) => ({ tcp: x.tcp || 900, tcpfin: x.tcpfin || 120, udp: x.udp || 300 });
  const one = apply(emptyRules(), '-A -t 10.9.0.1:80 -s wrr', '-a -t 10.9.0.1:80 -r 10.8.0.1:8080 -w 3', '-a -t 10.9.0.1:80 -r 10.8.0.2:80', '-a -t 10.9.0.1:80 -r 10.8.0.3:80 -w 0');
  t.equal(
    balancerScript(emptyRules(), one, fill),
    [
      'add table ip jailnet-lb',
      'delete table ip jailnet-lb',
      'add table ip jailnet-lb',
      'add map ip jailnet-lb services { type ipv4_addr . inet_proto . inet_service : verdict; }',
      'add set ip jailnet-lb vips { type ipv4_addr . inet_proto . inet_service; }',
      'add chain ip jailnet-lb output { type nat hook output priority -100; policy accept; }',
      'add chain ip jailnet-lb prerouting { type nat hook prerouting priority -100; policy accept; }',
      'add rule ip jailnet-lb output ip daddr . meta l4proto . th dport vmap @services',
      'add rule ip jailnet-lb prerouting ip daddr . meta l4proto . th dport vmap @services',
      'add chain ip jailnet-lb svc-tcp-10.9.0.1-80',
      'add rule ip jailnet-lb svc-tcp-10.9.0.1-80 meta l4proto tcp dnat ip addr . port to numgen inc mod 4 map { 0-2 : 10.8.0.1 . 8080, 3 : 10.8.0.2 . 80 }',
      'add element ip jailnet-lb services { 10.9.0.1 . tcp . 80 : jump svc-tcp-10.9.0.1-80 }',
      'add element ip jailnet-lb vips { 10.9.0.1 . tcp . 80 }',
      '',
    ].join('\n'),
    'wrr: each server a range as wide as its weight; weight 0 takes nothing',
  );
  const two = apply(one, '-A -u 10.9.0.2:53 -s sh -p 5', '-a -u 10.9.0.2:53 -r 10.8.0.1:53', '-a -u 10.9.0.2:53 -r 10.8.0.2:53');
  t.equal(
    balancerScript(one, two, fill),
    [
      'add chain ip jailnet-lb svc-udp-10.9.0.2-53',
      'add chain ip jailnet-lb svc-udp-10.9.0.2-53-0',
      'add chain ip jailnet-lb svc-udp-10.9.0.2-53-1',
      'add map ip jailnet-lb sticky-udp-10.9.0.2-53 { type ipv4_addr : ipv4_addr . inet_service; flags timeout; timeout 5s; size 65536; }',
      'add rule ip jailnet-lb svc-udp-10.9.0.2-53-0 update @sticky-udp-10.9.0.2-53 { ip saddr : 10.8.0.1 . 53 } meta l4proto udp dnat ip to 10.8.0.1:53',
      'add rule ip jailnet-lb svc-udp-10.9.0.2-53-1 update @sticky-udp-10.9.0.2-53 { ip saddr : 10.8.0.2 . 53 } meta l4proto udp dnat ip to 10.8.0.2:53',
      'add rule ip jailnet-lb svc-udp-10.9.0.2-53 meta l4proto udp dnat ip addr . port to ip saddr map @sticky-udp-10.9.0.2-53',
      'add rule ip jailnet-lb svc-udp-10.9.0.2-53 jhash ip saddr mod 2 vmap { 0 : jump svc-udp-10.9.0.2-53-0, 1 : jump svc-udp-10.9.0.2-53-1 }',
      'add element ip jailnet-lb services { 10.9.0.2 . udp . 53 : jump svc-udp-10.9.0.2-53 }',
      'add element ip jailnet-lb vips { 10.9.0.2 . udp . 53 }',
      '',
    ].join('\n'),
    'an added persistent sh service, and nothing for the unchanged one',
  );
  const removed = balancerScript(two, apply(two, '-D -u 10.9.0.2:53'), fill);
  t.match(removed, /^delete element ip jailnet-lb services \{ 10\.9\.0\.2 \. udp \. 53 \}\ndelete element ip jailnet-lb vips \{ 10\.9\.0\.2 \. udp \. 53 \}\nflush chain ip jailnet-lb svc-udp-10\.9\.0\.2-53\n/);
  t.match(removed, /delete map ip jailnet-lb sticky-udp-10\.9\.0\.2-53\n$/);
  t.equal(balancerScript(two, emptyRules(), fill), 'add table ip jailnet-lb\ndelete table ip jailnet-lb\n', 'no rules: the table goes');
  const empty = apply(emptyRules(), '-A -t 10.9.0.3:80 -s rr');
  t.match(balancerScript(emptyRules(), empty, fill), /svc-tcp-10\.9\.0\.3-80 meta l4proto tcp reject with tcp reset/, 'a service without a server refuses as IPVS does');
  const timed = balancerScript(one, apply(one, '--set 60 0 0'), fill);
  t.match(timed, /add ct timeout ip jailnet-lb timeout-tcp-60-120 \{ protocol tcp; l3proto ip; policy = \{ established: 60, fin_wait: 120 \}; \}/);
  t.match(timed, /add rule ip jailnet-lb raw-output meta l4proto tcp ip daddr \. meta l4proto \. th dport @vips ct timeout set "timeout-tcp-60-120"/);
});

t.test('pf rendering (FreeBSD): the anchor and the main ruleset as data, and what pf cannot express', async (t) => {
  const rules = apply(emptyRules(), '-A -t 10.9.0.1:80 -s wrr -p 120', '-a -t 10.9.0.1:80 -r 10.8.0.1:8080 -w 4', '-a -t 10.9.0.1:80 -r 10.8.0.2:8080 -w 2', '-a -t 10.9.0.1:80 -r 10.8.0.3:8080 -w 0', '-A -u 10.9.0.2:53 -s rr', '-A -t 10.9.0.3:443 -s rr', '-a -t 10.9.0.3:443 -r 10.8.0.9:443');
  t.equal(
    lbAnchorText(rules),
    [
      'rdr pass on lo0 inet proto tcp from any to 10.9.0.1 port 80 -> { 10.8.0.1, 10.8.0.1, 10.8.0.2 } port 8080 round-robin sticky-address',
      'rdr pass on lo0 inet proto tcp from any to 10.9.0.3 port 443 -> 10.8.0.9 port 443',
      'pass out quick on ! lo0 route-to lo0 inet proto tcp from any to 10.9.0.1 port 80',
      'pass out quick on ! lo0 route-to lo0 inet proto tcp from any to 10.9.0.3 port 443',
      'block return out quick inet proto udp from any to 10.9.0.2 port 53',
      '',
    ].join('\n'),
    'wrr weights 4:2 divided by their gcd; weight 0 left out; a single server needs no pool type; a service without servers refuses',
  );
  t.equal(lbMainRuleset(rules), 'set timeout src.track 120\nrdr-anchor "jailnet-lb"\nanchor "jailnet-lb"\n');
  t.equal(lbMainRuleset(apply(rules, '--set 900 0 0')), 'set timeout { tcp.established 900, tcp.finwait 45, udp.multiple 60 }\nset timeout src.track 120\nrdr-anchor "jailnet-lb"\nanchor "jailnet-lb"\n', "a 0 in --set is pf's default");
  t.throws(() => checkPfRules(apply(rules, '-A -t 10.9.0.4:80 -s rr -p 60')), /one timeout per pod \(pf's src\.track\): the services here ask for 120 and 60 s/);
  t.throws(() => checkPfRules(apply(rules, '-a -t 10.9.0.3:443 -r 10.8.0.10:8443')), /listen on different ports/);
  t.throws(() => checkPfRules(apply(emptyRules(), '-A -t 10.9.0.5:80 -s wrr', '-a -t 10.9.0.5:80 -r 10.8.0.1:80 -w 64', '-a -t 10.9.0.5:80 -r 10.8.0.2:80 -w 1')), /a pf pool of 65 entries \(at most 64\)/);
  t.doesNotThrow(() => checkPfRules(rules));
});

t.test('pfctl -s states lines: the redirected ones with the address asked for', async (t) => {
  t.same(parsePfStates('all tcp 10.88.0.5:8080 (10.10.0.1:80) <- 10.88.0.9:49152       ESTABLISHED:ESTABLISHED\nall udp 10.88.0.1:53 <- 10.88.0.9:5353       MULTIPLE:MULTIPLE\n'), [
    { protocol: 'tcp', translated: { address: '10.88.0.5', port: 8080 }, original: { address: '10.10.0.1', port: 80 }, state: 'ESTABLISHED:ESTABLISHED' },
    { protocol: 'udp', translated: { address: '10.88.0.1', port: 53 }, state: 'MULTIPLE:MULTIPLE' },
  ]);
});

t.test("drift readers as data: what each packet filter shows against the pod's rules", async (t) => {
  const rules = apply(emptyRules(), '-A -t 10.10.0.1:80 -s rr', '-a -t 10.10.0.1:80 -r 10.1.0.2:8080', '-a -t 10.10.0.1:80 -r 10.1.0.3:8080', '-A -u 10.10.0.1:53 -s rr');
  const held: NftState = {
    exists: true,
    chains: ['output', 'prerouting', 'svc-tcp-10.10.0.1-80', 'svc-udp-10.10.0.1-53'],
    rules: ['output', 'prerouting', 'svc-tcp-10.10.0.1-80', 'svc-udp-10.10.0.1-53'].map((chain) => ({ chain, expr: [] })),
    sets: new Map(),
    maps: new Map([['services', [{ key: '10.10.0.1 . tcp . 80', target: 'svc-tcp-10.10.0.1-80' }, { key: '10.10.0.1 . udp . 53', target: 'svc-udp-10.10.0.1-53' }]]]),
  };
  t.equal(nftBalancerDrift(held, rules), undefined, 'nft: all there');
  t.equal(nftBalancerDrift(emptyState(), emptyRules()), undefined, 'no rules: nothing asked');
  t.equal(nftBalancerDrift(emptyState(), rules), "the load balancer's table ip jailnet-lb is gone");
  t.equal(nftBalancerDrift({ ...held, rules: held.rules.filter((r) => r.chain !== 'prerouting') }, rules), "the load balancer's prerouting hook is gone");
  t.equal(nftBalancerDrift({ ...held, rules: held.rules.filter((r) => r.chain.startsWith('svc')) }, rules), "the load balancer's output and prerouting hooks are gone");
  t.equal(nftBalancerDrift({ ...held, maps: new Map([['services', []]]) }, rules), 'load balancer services tcp 10.10.0.1:80, udp 10.10.0.1:53 gone');
  t.equal(nftBalancerDrift({ ...held, rules: held.rules.filter((r) => r.chain !== 'svc-udp-10.10.0.1-53') }, rules), 'load balancer service udp 10.10.0.1:53 gone', "a service chain flushed");

  // As pfctl prints them (pfctl_parser.c print_rule: `port = N`, the pool in braces).
  const view = {
    enabled: true,
    mainNat: ['rdr-anchor "jailnet-lb" all'],
    anchorNat: ['rdr pass on lo0 inet proto tcp from any to 10.10.0.1 port = 80 -> { 10.1.0.2, 10.1.0.3 } port 8080 round-robin'],
  };
  t.equal(pfBalancerDrift(view, rules), undefined, 'pf: the served service is there (one without servers has no rdr)');
  t.equal(pfBalancerDrift({ ...view, enabled: false }, rules), "pf is disabled in the pod's vnet, so its load balancer does nothing");
  t.equal(pfBalancerDrift({ ...view, mainNat: [] }, rules), "the hook of the load balancer's anchor jailnet-lb is gone from the pod's pf");
  t.equal(pfBalancerDrift({ ...view, anchorNat: [] }, rules), 'load balancer service tcp 10.10.0.1:80 gone from the anchor jailnet-lb');
  const onePool = ['rdr pass on lo0 inet proto tcp from any to 10.10.0.1 port = 80 -> 10.1.0.2 port 8080'];
  t.equal(pfBalancerDrift({ ...view, anchorNat: onePool }, rules), 'load balancer service tcp 10.10.0.1:80 gone from the anchor jailnet-lb', 'a pool without one of the servers is not the service');
  t.equal(pfBalancerDrift({ ...view, anchorNat: ['rdr pass on lo0 inet proto tcp from any to 10.10.0.1 port = 8080 -> { 10.1.0.2, 10.1.0.3 } port 8080 round-robin'] }, rules), 'load balancer service tcp 10.10.0.1:80 gone from the anchor jailnet-lb', 'another port is not the service');
  t.equal(pfBalancerDrift({ enabled: false, mainNat: [], anchorNat: [] }, emptyRules()), undefined, 'no rules: nothing asked');
});
