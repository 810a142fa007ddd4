// Under load, for real on Linux: 100 network namespaces get podman's default chain on one
// bridge at once, then lose it at once. No call may fail, no address may be handed out
// twice, packets must flow, and nothing may be left: no veth, nft rule or set entry,
// lease, record or cache file.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { hostLinks, jailnetNft, linkRemove, linuxLab, missingPrerequisite, netnsAdd, netnsRemove, ping } from './helpers/linux.js';
import { jailnet, type Run } from './helpers/run.js';

t.setTimeout(1_200_000);

const missing = missingPrerequisite();
if (missing) {
  t.fail(`cannot run the Linux driver tests: ${missing}`);
} else {
  const COUNT = 100;
  const BRIDGE = 'jnt-conc0';
  const SUBNET = '10.243.0';
  const { conf, leases, state } = linuxLab('linux-concurrency', 'conc', BRIDGE, SUBNET);
  const names = Array.from({ length: COUNT }, (_, i) => `jnt-cc-${i}`);
  const cli = (...args: string[]) => jailnet(['--config', conf, ...args]);
  const failuresOf = (runs: Run[]) => runs.map((r, i) => (r.code === 0 ? '' : `#${i}: ${r.stderr.trim().split('\n').pop()}`)).filter(Boolean);

  t.teardown(() => {
    for (const name of names) netnsRemove(name);
    for (const link of hostLinks().filter((l) => (l.ifalias ?? '').endsWith('network conc'))) linkRemove(link.ifname);
    linkRemove(BRIDGE);
  });

  t.test(`${COUNT} concurrent ADDs on one bridge, then ${COUNT} concurrent DELs`, async (t) => {
    const paths = names.map((name) => netnsAdd(name));
    const adds = await Promise.all(paths.map((netns, i) => cli('cni', 'add', '--network', 'conc', '--container-id', `conc-${i}`, '--netns', netns)));
    const addFailures = failuresOf(adds);
    t.same(addFailures, [], 'every ADD succeeded');
    const addresses = adds.map((r) => (r.code === 0 ? (r.json.ips[0].address as string).split('/')[0] : undefined)).filter((a): a is string => a !== undefined);
    const duplicates = addresses.length - new Set(addresses).size;
    t.equal(duplicates, 0, 'no address was handed out twice');
    t.equal(hostLinks().filter((l) => l.master === BRIDGE).length, COUNT, 'every veth is on the bridge');
    const sample = [0, 1, COUNT / 2, COUNT - 1];
    for (const i of sample) t.ok(ping(paths[i], `${SUBNET}.1`), `pod ${i} pings the gateway`);
    t.ok(ping(paths[0], addresses[COUNT - 1] as string), 'the first pod pings the last');

    const dels = await Promise.all(paths.map((netns, i) => cli('cni', 'del', '--network', 'conc', '--container-id', `conc-${i}`, '--netns', netns)));
    const delFailures = failuresOf(dels);
    t.same(delFailures, [], 'every DEL succeeded');
    const veths = hostLinks().filter((l) => l.master === BRIDGE || (l.ifalias ?? '').endsWith('network conc')).map((l) => l.ifname);
    const nft = jailnetNft().text;
    const rules = addresses.filter((a) => new RegExp(`\\b${a.replace(/\./g, '\\.')}\\b`).test(nft));
    const files = [
      ...readdirSync(path.join(leases, 'conc')).filter((n) => !/^(lock|last_reserved_ip\.\d+)$/.test(n)),
      ...readdirSync(path.join(state, 'cni', 'results')),
      ...['bridge', 'portmap', 'firewall'].flatMap((p) => {
        try {
          return readdirSync(path.join(state, 'attachments', p)).filter((n) => n.endsWith('.json'));
        } catch {
          return [];
        }
      }),
    ];
    t.same(veths, [], 'no veth is left');
    t.same(rules, [], 'no nft rule or set entry names a pod');
    t.same(files, [], 'no lease, cache file or record is left');
    t.comment(`linux concurrent CNI: ${COUNT} ADDs, ${addFailures.length} failed, ${duplicates} duplicate addresses; ${COUNT} DELs, ${delFailures.length} failed; ${veths.length + rules.length + files.length} leaks`);
  });
}
