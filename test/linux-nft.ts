// The Linux driver's renderer of packet-filter intents, as data, and for real in a
// network namespace this test makes: every transaction is applied by nft, and what the
// table holds reads back structurally as the intents that made it. The filter itself runs
// there too: what it reads for a change (its own chain, never the whole table), the count
// that decides when the table goes, and a table of the earlier layout brought to this one.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createExecDoor } from '../src/hosts/exec.js';
import type { RunInVnet } from '../src/hosts/host.js';
import { NftPacketFilter } from '../src/hosts/linux/nft-filter.js';
import { allowDeferredCleanups, runPendingCleanups } from '../src/util/deferred-cleanup.js';
import {
  BASE_LISTING,
  baseIntact,
  baseIntactInListing,
  dnatRules,
  elementsLeadingTo,
  forwardsOf,
  isolatedOf,
  isolationRules,
  isolationChanges,
  masqueradedOf,
  masqueradeChanges,
  parseNftTable,
  publicationElements,
  publicationChanges,
  snatRules,
  transaction,
  withoutCovered,
  emptyState,
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

t.test("a publication renders as DNAT rules, the bridge's source NAT, and the map elements that lead to them", async (t) => {
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
  t.same(Object.fromEntries(publicationElements(publication.forwards, true)), {
    published: ['tcp . 8080'],
    'hairpin-v4': ['10.88.0.2 . tcp . 80', '10.88.0.2 . udp . 53'],
    'hairpin-v6': ['fd00::2 . tcp . 80'],
    'published-v4': ['192.0.2.2 . udp . 5353'],
  }, 'each key once: both families of one host port are one element');
  const script = transaction(publicationChanges('ctr1-eth0', undefined, publication));
  t.match(script, 'add element inet jailnet published { tcp . 8080 : jump dnat/ctr1-eth0 }');
  t.notMatch(script, /delete (chain|element)/, 'a first publication removes nothing');
  t.notMatch(script, /list|ctr2/, 'and names no other publication');
  const guessed = transaction(publicationChanges('ctr1-eth0', 'unread', publication));
  t.match(guessed, /\ncreate chain inet jailnet dnat\/ctr1-eth0\nadd rule inet jailnet dnat\/ctr1-eth0 /, 'taken to have none: its chains are created, which fails where they are there');
  t.notMatch(guessed, /flush chain inet jailnet dnat/, 'and need no flush');
  t.match(script, /^table inet jailnet \{\n/, 'a transaction declares the table first');
  t.notMatch(transaction(publicationChanges('ctr1-eth0', 'unread', publication), false), /table|flush chain inet jailnet prerouting/, 'unless the table is known to be there');
});

t.test('isolation renders as accept within a subnet and drop from the other pods', async (t) => {
  t.same(isolationRules({ podSubnets: ['10.1.0.0/24', '10.2.0.0/24'], isolated: ['10.1.0.0/24'] }), [
    'meta nfproto ipv4 ip saddr 10.1.0.0/24 ip daddr 10.1.0.0/24 accept',
    'meta nfproto ipv4 ip saddr @jailnet-pods-v4 ip daddr 10.1.0.0/24 drop',
  ]);
  t.same(withoutCovered(['10.88.0.0/16', '10.88.1.0/24', '10.89.0.0/24', '10.89.0.0/24']), ['10.88.0.0/16', '10.89.0.0/24']);
  t.match(transaction(masqueradeChanges('add', ['10.88.0.2', '10.88.0.3', 'fd00::2'])), /add element inet jailnet cni-nat-v4 \{ 10\.88\.0\.2, 10\.88\.0\.3 \}\nadd element inet jailnet cni-nat-v6 \{ fd00::2 \}\n$/);
});

/** The filter on a scratch namespace, with the nft commands it runs recorded. */
function filterIn(ns: string, runDirectory: string) {
  const door = createExecDoor();
  const commands: string[] = [];
  /** What each `nft -f -` was given. */
  const scripts: string[] = [];
  const run: RunInVnet = (argv, _vnet, options) => {
    commands.push(argv.join(' '));
    if (options?.input !== undefined) scripts.push(options.input);
    return door.run('ip', ['netns', 'exec', ns, ...argv], options);
  };
  const filter = new NftPacketFilter(run, door, runDirectory, async () => undefined);
  return { filter, commands, scripts };
}

t.test('for real in a scratch namespace', async (t) => {
  const missing = missingPrerequisite();
  if (missing) {
    t.fail(missing);
    return;
  }
  const ns = `jnnft${process.pid}`;
  const runDirectory = mkdtempSync(path.join(tmpdir(), 'jailnet-nft-'));
  sh('ip', ['netns', 'add', ns]);
  t.teardown(() => {
    sh('ip', ['netns', 'del', ns], { allowFailure: true });
    rmSync(runDirectory, { recursive: true, force: true });
  });
  const read = (): NftState => {
    const listed = sh('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'table', 'inet', 'jailnet'], { allowFailure: true });
    return listed.code === 0 ? parseNftTable(listed.stdout) : emptyState();
  };
  const text = () => sh('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'jailnet'], { allowFailure: true }).stdout;
  const apply = (script: string) => {
    const result = sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, allowFailure: true });
    t.equal(result.code, 0, `nft took the transaction ${result.stderr}`);
  };

  await t.test('transactions applied by nft read back as the intents', async (t) => {
    apply(transaction(publicationChanges('ctr1-eth0', undefined, publication)));
    apply(transaction(isolationChanges({ podSubnets: ['10.1.0.0/24', '10.2.0.0/24'], isolated: ['10.1.0.0/24'] })));
    apply(transaction(masqueradeChanges('add', ['10.88.0.2', 'fd00::2'])));
    t.same(sortedForwards(forwardsOf(read(), 'ctr1-eth0')), sortedForwards(publication.forwards), "the forwards read back from nft's JSON");
    t.same(isolatedOf(read()), ['10.1.0.0/24']);
    t.same(masqueradedOf(read()).sort(), ['10.88.0.2', 'fd00::2']);
    const moved = { ...publication, forwards: [{ protocol: 'tcp' as const, hostPort: 9090, podAddress: '10.88.0.2', podPort: 90 }] };
    apply(transaction(publicationChanges('ctr1-eth0', publication.forwards, moved)));
    t.same(forwardsOf(read(), 'ctr1-eth0'), moved.forwards, 'published again with other ports: only the new forwards');
    t.notMatch(text(), /8080|5353/, 'and no element of the old ones is left');
    apply(transaction(publicationChanges('ctr1-eth0', moved.forwards, null)));
    t.notMatch(text(), /ctr1-eth0|9090/, 'removed: no chain, no element');
    apply(transaction(publicationChanges('ctr1-eth0', moved.forwards, null)));
    t.pass('removing what a crash already took is no error');
    sh('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'jailnet']);
  });

  await t.test('through the filter: reads of its own part only, and the table goes with the last owner', async (t) => {
    const { filter, commands } = filterIn(ns, runDirectory);
    const second: PortPublication = { owner: { containerId: 'ctr2', ifname: 'eth0' }, forwards: [{ protocol: 'tcp', hostPort: 9090, podAddress: '10.88.0.3', podPort: 90 }] };
    await filter.publishPorts(publication);
    await filter.publishPorts(second);
    await filter.masquerade(['10.88.0.2', '10.88.0.3']);
    await filter.setIsolation({ podSubnets: ['10.1.0.0/24'], isolated: ['10.1.0.0/24'] });
    t.same(sortedForwards(await filter.publishedPorts(publication.owner)), sortedForwards(publication.forwards));
    const third: PortPublication = { ...second, owner: { containerId: 'ctr3', ifname: 'eth0' }, forwards: [{ ...second.forwards[0]!, hostPort: 9091, podAddress: '10.88.0.4' }] };
    commands.length = 0;
    await filter.publishPorts(third);
    t.same(commands, ['nft -f -'], 'a new publication is one transaction, no read');
    commands.length = 0;
    await filter.masquerade(['10.88.0.4']);
    t.same(commands, ['nft -f -'], 'so is a new masqueraded address (this process read the table whole at first use)');
    commands.length = 0;
    await filter.masquerade(['10.88.0.4']);
    t.same(commands, [], 'one known to be there costs nothing');
    t.equal(await filter.unmasquerade(['10.88.0.4', '10.88.0.9']), 1, 'only what was masqueraded is removed, and said so');
    t.same(masqueradedOf(read()).sort(), ['10.88.0.2', '10.88.0.3']);

    // Another process's change (a new stamp beside the count) makes this one forget what it knew.
    const countFile = path.join(runDirectory, readdirSync(runDirectory).find((f) => f.endsWith('.owners'))!);
    const [owners] = readFileSync(countFile, 'utf8').trim().split(' ');
    writeFileSync(countFile, `${owners} another-process\n`);
    const moved: PortPublication = { ...third, forwards: [{ ...third.forwards[0]!, hostPort: 9092 }] };
    commands.length = 0;
    await filter.publishPorts(moved);
    t.same(commands, ['nft -f -', 'nft -j list chain inet jailnet dnat/ctr3-eth0', 'nft -f -'], 'a publication not known to be there: the guess fails, its chain is read');
    t.same(forwardsOf(read(), 'ctr3-eth0'), moved.forwards, 'and it holds only the new forwards');
    t.notMatch(text(), /9091/, 'no element of the old ones is left');
    commands.length = 0;
    await filter.masquerade(['10.88.0.5']);
    t.same(commands, ['nft get element inet jailnet cni-nat-v4 { 10.88.0.5 }', 'nft -f -'], 'nor are the masqueraded addresses known: a look first');
    t.equal(await filter.unmasquerade(['10.88.0.5']), 1);
    commands.length = 0;
    await filter.unpublishPorts(moved.owner, []);
    t.same(commands, ['nft -f -'], 'what this process applied last is removed without a read');
    t.notMatch(text(), /ctr3-eth0/);

    for (const owner of [publication.owner, second.owner, { containerId: 'ctr3', ifname: 'eth0' }]) await filter.unpublishPorts(owner, []);
    await filter.setIsolation({ podSubnets: [], isolated: [] });
    t.equal(read().exists, true, 'the masqueraded addresses still keep the table');
    commands.length = 0;
    t.equal(await filter.unmasquerade(['10.88.0.2', '10.88.0.3']), 2);
    t.equal(read().exists, false, "with nothing of jailnet's left, the table is gone");
    t.same(
      commands,
      ['nft get element inet jailnet cni-nat-v4 { 10.88.0.2, 10.88.0.3 }', 'nft -j list table inet jailnet', 'nft -f -'],
      'the last owners go with the table: after the look (this process no longer knows them all), a whole read confirms nothing else is in it, one transaction deletes it',
    );
  });

  await t.test('after `nft flush table` (a firewall reload) the next change puts the base rules back, and a flushed publication goes by its map elements', async (t) => {
    const { filter, commands } = filterIn(ns, runDirectory);
    await filter.publishPorts(publication);
    await filter.masquerade(['10.88.0.2']);
    const listing = () => sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: `${BASE_LISTING}\n` }).stdout;
    t.equal(baseIntactInListing(listing()), true, "the base chain's listing shows its rules");
    sh('ip', ['netns', 'exec', ns, 'nft', 'flush', 'table', 'inet', 'jailnet']);
    t.equal(baseIntactInListing(listing()), false, 'and, once flushed, that they are gone');
    t.equal(baseIntact(read()), false);
    t.same([...elementsLeadingTo(read(), 'ctr1-eth0').keys()].sort(), ['hairpin-v4', 'hairpin-v6', 'published', 'published-v4'], 'the map elements still lead to the emptied chains');
    // As a process that never saw the table (another stamp beside the count): its chain is read, found empty.
    const countFile = path.join(runDirectory, readdirSync(runDirectory).find((f) => f.endsWith('.owners'))!);
    writeFileSync(countFile, `${readFileSync(countFile, 'utf8').trim().split(' ')[0]} another-process\n`);
    commands.length = 0;
    await filter.unpublishPorts(publication.owner, []);
    t.same(commands, ['nft -j list chain inet jailnet dnat/ctr1-eth0', 'nft -j list table inet jailnet', 'nft -f -', 'nft -f -'], 'its empty chain read, then the whole table for its elements; the removal; the base put back');
    t.notMatch(text(), /ctr1-eth0|8080|5353/, 'no chain or element of it is left');
    t.equal(baseIntact(read()), true, 'the base rules are back');
    sh('ip', ['netns', 'exec', ns, 'nft', 'flush', 'table', 'inet', 'jailnet']);
    commands.length = 0;
    await filter.publishPorts(publication);
    t.same(commands, ['nft -f -', 'nft -f -'], 'a publication this process knows to be gone: its transaction, then the base put back');
    t.equal(baseIntact(read()), true);
    t.same(sortedForwards(forwardsOf(read(), 'ctr1-eth0')), sortedForwards(publication.forwards));
    await filter.unpublishPorts(publication.owner, []);
    await filter.unmasquerade(['10.88.0.2']);
    t.equal(read().exists, false, 'the table goes with its last owner');
  });

  await t.test('a table of the earlier layout (base chains jumping to each publication) is brought to this one', async (t) => {
    rmSync(runDirectory, { recursive: true, force: true });
    apply([
      'table inet jailnet {',
      '  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }',
      '  chain output { type nat hook output priority -100; policy accept; }',
      '  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }',
      '  chain forward { type filter hook forward priority filter; policy accept; }',
      '  chain masq { }',
      '  chain isolation { }',
      '  chain dnat/old-eth0 { meta nfproto ipv4 fib daddr type local tcp dport 7070 dnat ip to 10.88.0.7:70; }',
      '}',
      'add rule inet jailnet prerouting jump dnat/old-eth0',
      'add rule inet jailnet output jump dnat/old-eth0',
      '',
    ].join('\n'));
    const { filter } = filterIn(ns, runDirectory);
    await filter.masquerade(['10.88.0.8']);
    t.match(text(), /published \{[^}]*elements = \{ tcp \. 7070 : jump dnat\/old-eth0 \}/s, "the old publication is reached through the map");
    t.notMatch(text(), /jump dnat\/old-eth0\n/, 'and no longer by a jump of its own');
    await filter.unpublishPorts({ containerId: 'old', ifname: 'eth0' }, []);
    await filter.unmasquerade(['10.88.0.8']);
    t.equal(read().exists, false, 'counted from the whole read: the table goes with the last of both');
  });

  // Last: from here on this process defers cleanups, as jailnetd does.
  await t.test('in jailnetd the emptied table is kept a while: the next pod neither waits for its declaration nor for its deletion', async (t) => {
    rmSync(runDirectory, { recursive: true, force: true });
    allowDeferredCleanups();
    t.teardown(() => allowDeferredCleanups(false));
    const { filter, commands, scripts } = filterIn(ns, runDirectory);
    await filter.masquerade(['10.88.0.2']);
    commands.length = 0;
    t.equal(await filter.unmasquerade(['10.88.0.2']), 1);
    t.same(commands, ['nft -f -'], 'the last owner leaves: its element is deleted, no whole read, no deletion of the table');
    t.equal(read().exists, true, 'the table is still there');
    t.same(masqueradedOf(read()), [], "with nothing of jailnet's in it");

    commands.length = 0;
    scripts.length = 0;
    await filter.masquerade(['10.88.0.3']);
    t.same(commands, ['nft -f -'], 'the next pod: one transaction');
    t.notMatch(scripts[0] ?? '', /table inet jailnet \{/, 'without the declaration of the table');
    t.same(await runPendingCleanups(), [], 'an owner again: no deletion is pending');
    t.equal(read().exists, true);

    await filter.unmasquerade(['10.88.0.3']);
    commands.length = 0;
    t.same(await runPendingCleanups(), [], 'the put-off deletion (as at the timer, or when the daemon stops)');
    t.same(commands, ['nft -j list table inet jailnet', 'nft -f -'], 'a whole read confirms the table empty, then it is deleted');
    t.equal(read().exists, false, 'the table is gone');

    // A table deleted by hand while kept: the next change declares it again.
    await filter.masquerade(['10.88.0.4']);
    await filter.unmasquerade(['10.88.0.4']);
    sh('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'jailnet']);
    await filter.masquerade(['10.88.0.5']);
    t.same(masqueradedOf(read()), ['10.88.0.5'], 'a table gone by hand is made again');
    await filter.unmasquerade(['10.88.0.5']);
    await runPendingCleanups();
    t.equal(read().exists, false);
  });
});
