// `jailnet topology` on the Linux driver for real: 3 networks × 5 pods, each bridge's
// members read from the kernel, the dot rendered to SVG by Graphviz naming every pod;
// everything removed afterwards.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import type { Topology } from '../src/topology/model.js';
import { cliLab, hostLinks, linkRemove, missingPrerequisite, netnsRemove } from './helpers/linux.js';

const missing = missingPrerequisite(['dot']);
if (missing) {
  t.fail(`cannot run the Linux topology test: ${missing}`);
} else {
  const { cli } = cliLab('topology-linux');
  const networks = [0, 1, 2].map((i) => ({ name: `jnttopo${i}`, bridge: `jnt-topo${i}`, subnet: `10.238.${i}.0/24` }));
  const pods = networks.flatMap((n, i) => [1, 2, 3, 4, 5].map((j) => ({ pod: `jnt-tp${i}${j}`, network: n.name })));
  t.teardown(() => {
    for (const { pod } of pods) netnsRemove(`jailnet-${pod}`);
    for (const n of networks) linkRemove(n.bridge);
  });

  t.test('3 networks × 5 pods: json, text, and dot rendered by Graphviz', async (t) => {
    for (const n of networks) t.equal((await cli('network', 'create', n.name, '--subnet', n.subnet, '--bridge', n.bridge)).code, 0);
    const created = await Promise.all(pods.map(({ pod, network }) => cli('pod', 'create', pod, '--network', network)));
    t.same(created.map((r) => r.code), pods.map(() => 0), created.map((r) => r.stderr).join(''));
    const json = await cli('topology', '--format', 'json');
    t.equal(json.code, 0, json.stderr);
    const topology = JSON.parse(json.stdout) as Topology;
    t.equal(topology.host, 'linux');
    for (const n of networks) {
      const node = topology.networks.find((x) => x.name === n.name);
      const kernel = hostLinks().filter((l) => l.master === n.bridge).map((l) => l.ifname).sort();
      t.same([...(node?.members ?? [])].sort(), kernel, `${n.name}: the members are the kernel's`);
      t.equal(kernel.length, 5);
      t.same(node?.pods, pods.filter((p) => p.network === n.name).map((p) => p.pod));
    }
    for (const { pod, network } of pods) {
      t.match(topology.pods.find((p) => p.name === pod)?.attachments, [{ network, ifname: 'eth0', addresses: [new RegExp(`^10\\.238\\.${network.slice(-1)}\\.\\d+/24$`)] }], pod);
    }
    const text = (await cli('topology')).stdout;
    for (const { pod } of pods) t.match(text, new RegExp(`^pod ${pod} \\(bridge, ready\\)`, 'm'));
    const svg = spawnSync('dot', ['-Tsvg'], { input: (await cli('topology', '--format', 'dot')).stdout, encoding: 'utf8' });
    t.equal(svg.status, 0, svg.stderr);
    // Graphviz writes some characters as numeric entities (a '-' as &#45;).
    const shown = svg.stdout.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
    for (const { pod } of pods) t.match(shown, `>pod ${pod}</text>`, `the SVG names ${pod}`);
    const removed = await Promise.all(pods.map(({ pod }) => cli('pod', 'rm', pod)));
    t.same(removed.map((r) => r.code), pods.map(() => 0));
    for (const n of networks) t.equal((await cli('network', 'rm', n.name)).code, 0);
  });
}
