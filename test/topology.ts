// `jailnet topology` on the simulated FreeBSD host, 3 networks × 5 pods with a container,
// a published port, a load-balancer service, an interface and a route hot-plugged with
// kata-network and an interface someone else moved in: text, JSON and dot, the dot
// rendered to SVG by Graphviz's own dot(1), which must name every pod. Renderers as data too.
import { spawnSync } from 'node:child_process';
import t, { type Test } from 'tap';
import { topologyDot, topologyText } from '../src/topology/render.js';
import type { Topology } from '../src/topology/model.js';
import { podLab, type PodLab } from './helpers/pods.js';
import { setup } from './helpers/sim.js';

t.setTimeout(600_000);

const NETWORKS = ['front', 'back', 'data'];
const podsOf = (network: string) => [1, 2, 3, 4, 5].map((i) => `${network}${i}`);

/** front3 gets an epair and a route through kata-network, and an epair moved in by hand that repair records. */
async function plugInto(t: Test, lab: PodLab): Promise<string> {
  const { writeFile } = await import('node:fs/promises');
  const input = async (name: string, value: unknown) => {
    const file = `${lab.dir}/${name}.json`;
    await writeFile(file, JSON.stringify(value));
    return file;
  };
  const iface = { device: 'jnrt-top0', name: 'eth2', linkType: 'epair', IPAddresses: [{ address: '172.17.0.2', mask: '24' }], hwAddr: '02:42:20:6f:a3:70', mtu: 1500 };
  t.equal((await lab.jailnet(['kata-network', 'add-iface', 'front3', await input('iface', iface)])).code, 0);
  t.equal((await lab.jailnet(['kata-network', 'add-route', 'front3', await input('route', { dest: '10.3.0.0/16', gateway: '172.17.0.1', device: 'eth2' })])).code, 0);
  const { jail } = JSON.parse((await lab.jailnet(['pod', 'inspect', 'front3'])).stdout) as { jail: string };
  const made = (await setup(lab.sim, [['ifconfig', 'epair', 'create']])).stdout.trim();
  await setup(lab.sim, [['ifconfig', made.replace(/a$/, 'b'), 'vnet', jail]]);
  t.match((await lab.jailnet(['repair'])).stdout, /^fixed pod front3: added by someone else, not yet recorded: interface epair\d+b/m, 'repair records the epair moved in by hand');
  return made.replace(/a$/, 'b');
}

t.test('3 networks × 5 pods on the simulator: text, json, and dot that Graphviz renders', async (t) => {
  const lab = await podLab(t);
  for (const [i, network] of NETWORKS.entries()) {
    t.equal((await lab.jailnet(['network', 'create', network, '--subnet', `10.89.${60 + i}.0/24`])).code, 0);
    for (const pod of podsOf(network)) t.equal((await lab.jailnet(['pod', 'create', pod, '--network', network, ...(pod === 'front1' ? ['-p', '8080:80'] : [])])).code, 0, pod);
  }
  t.equal((await lab.jailnet(['container', 'add', 'front1', 'web', '--path', '/'])).code, 0);
  const back1 = (JSON.parse((await lab.jailnet(['pod', 'inspect', 'back1'])).stdout).interfaces[0].addresses[0] as string).split('/')[0] as string;
  t.equal((await lab.jailnet(['kata-ipvs', 'ipvsadm', '--parameters', '-A -t 10.10.0.1:80 -s rr', 'front2'])).code, 0);
  t.equal((await lab.jailnet(['kata-ipvs', 'ipvsadm', '--parameters', `-a -t 10.10.0.1:80 -r ${back1}:80`, 'front2'])).code, 0);
  const movedIn = await plugInto(t, lab);

  const json = await lab.jailnet(['topology', '--format', 'json']);
  t.equal(json.code, 0, json.stderr);
  const topology = JSON.parse(json.stdout) as Topology;
  t.equal(topology.host, 'freebsd');
  t.same(topology.networks.map((n) => [n.name, n.pods]), NETWORKS.map((n) => [n, podsOf(n)]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  const bridges = lab.sim.state().ifaces.filter((i) => i.cloner === 'bridge');
  for (const network of topology.networks) {
    const bridge = bridges.find((b) => b.name === network.bridge);
    t.ok(bridge, `network ${network.name}'s bridge ${network.bridge} exists`);
    t.equal(network.members.length, 5, `${network.name}: the bridge's five epair ends, read from the host`);
  }
  t.match(topology.pods.find((p) => p.name === 'front1'), { containers: ['web'], ports: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], attachments: [{ network: 'front', ifname: 'eth0', addresses: [/^10\.89\.60\./] }] });
  t.match(topology.pods.find((p) => p.name === 'front2')?.services, [{ protocol: 'tcp', address: '10.10.0.1', port: 80, scheduler: 'rr', servers: [{ address: back1, port: 80, weight: 1 }] }]);
  t.match(topology.pods.find((p) => p.name === 'front3'), {
    runtimeInterfaces: [{ name: 'eth2', device: 'jnrt-top0', linkType: 'pair', addresses: ['172.17.0.2/24'] }],
    runtimeRoutes: [{ dest: '10.3.0.0/16', gateway: '172.17.0.1', device: 'eth2' }],
    addedOutside: { interfaces: [movedIn] },
  });
  t.same(JSON.parse((await lab.jailnet(['--json', 'topology'])).stdout), topology, '--json is the same as --format json');

  const text = (await lab.jailnet(['topology'])).stdout;
  for (const pod of NETWORKS.flatMap(podsOf)) t.match(text, new RegExp(`^pod ${pod} \\(bridge, ready\\)`, 'm'), `text names ${pod}`);
  t.match(text, /^ {2}ports: 8080->80\/tcp$/m);
  t.match(text, /^ {2}eth2 \(pair jnrt-top0, kata-network\): 172\.17\.0\.2\/24\n {2}route 10\.3\.0\.0\/16 via 172\.17\.0\.1 dev eth2 \(kata-network\)\n {2}added outside jailnet: interface epair\d+b$/m);
  t.match(text, new RegExp(`^ {2}service TCP 10\\.10\\.0\\.1:80 rr -> ${back1.replace(/\./g, '\\.')}:80 w1$`, 'm'));

  const dot = (await lab.jailnet(['topology', '--format', 'dot'])).stdout;
  const svg = spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8' });
  t.equal(svg.status, 0, `dot renders it: ${svg.stderr}`);
  t.equal(svg.stderr, '', 'without a warning');
  // Graphviz writes some characters as numeric entities (a '-' as &#45;).
  const shown = svg.stdout.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
  for (const pod of NETWORKS.flatMap(podsOf)) t.match(shown, `>pod ${pod}</text>`, `the SVG names pod ${pod}`);
  for (const network of NETWORKS) t.match(shown, `>${network}</text>`);
  t.match(shown, '>eth2 (pair jnrt-top0)</text>', 'the hot-plugged interface');
  t.match(shown, '>route 10.3.0.0/16 via 172.17.0.1 dev eth2</text>');
  t.match(shown, `>interface ${movedIn}</text>`, 'what was added outside jailnet');
});

const NONE_ADDED = { runtimeInterfaces: [], runtimeRoutes: [], addedOutside: { interfaces: [], addresses: [], routes: [] } };

t.test('renderers as data: quoting, shared pods, servers that are pods, hot-plugged and outside additions', async (t) => {
  const topology: Topology = {
    host: 'linux',
    networks: [{ name: 'n1', bridge: 'br0', subnets: ['10.1.0.0/24'], members: ['veth1'], pods: ['a', 'b'] }],
    pods: [
      { name: 'a', mode: 'bridge', state: 'ready', jail: 'jailnet-a', attachments: [{ network: 'n1', ifname: 'eth0', addresses: ['10.1.0.2/24'] }], containers: [], ports: [], services: [{ protocol: 'udp', address: '10.9.9.9', port: 53, scheduler: 'wrr', servers: [{ address: '10.1.0.3', port: 53, weight: 2 }, { address: '192.0.2.7', port: 53, weight: 1 }] }], ...NONE_ADDED },
      { name: 'b', mode: 'bridge', state: 'ready', jail: 'jailnet-b', attachments: [{ network: 'n1', ifname: 'eth0', addresses: ['10.1.0.3/24'] }], containers: ['c"1'], ports: [], services: [],
        runtimeInterfaces: [{ name: 'eth1', device: 'tap3', linkType: 'tap', addresses: ['172.16.0.3/16'] }],
        runtimeRoutes: [{ dest: '10.2.0.0/16', gateway: '172.16.0.1', device: 'eth1' }, { dest: '10.4.0.5', device: 'eth0' }],
        addedOutside: { interfaces: ['epair4b'], addresses: [{ interface: 'eth0', address: '192.0.2.9' }], routes: [] } },
      { name: 'c', mode: 'container', state: 'ready', jail: 'jailnet-a.c', sharesWith: 'a', attachments: [], containers: [], ports: [], services: [], ...NONE_ADDED },
    ],
  };
  const dot = topologyDot(topology);
  t.match(dot, /"ctr:b\/c\\"1" \[label="c\\"1" shape=component\];/, 'a quote in a name is escaped');
  t.match(dot, /"addr:10\.1\.0\.3" \[shape=point\]; "addr:10\.1\.0\.3" -> "pod:b" \[arrowhead=none\];/, 'a real server that is a pod points at it');
  t.match(dot, /"addr:192\.0\.2\.7" \[label="192\.0\.2\.7" shape=plaintext\];/, 'any other is a node of its own');
  t.match(dot, /"pod:c" -> "pod:a" \[style=dashed label="shares"\];/);
  t.match(dot, /"net:n1" \[label="n1\\nbridge br0\\n10\.1\.0\.0\/24" shape=ellipse\];/);
  t.match(dot, /"rif:b\/eth1" \[label="eth1 \(tap tap3\)\\n172\.16\.0\.3\/16\\nroute 10\.2\.0\.0\/16 via 172\.16\.0\.1 dev eth1" shape=cds\];/, 'a route through a hot-plugged interface is on it');
  t.match(dot, /"pod:b" \[label="b\\n10\.1\.0\.3\/24\\nroute 10\.4\.0\.5 dev eth0"\];/, 'one through the pod\'s own is on the pod');
  t.match(dot, /"out:b" \[label="added outside jailnet\\ninterface epair4b\\naddress 192\.0\.2\.9 on eth0" shape=note style=dashed\];/);
  t.equal(spawnSync('dot', ['-Tsvg'], { input: dot, encoding: 'utf8' }).status, 0, 'dot takes it');
  t.equal(
    topologyText(topology),
    [
      'network n1: bridge br0 10.1.0.0/24',
      '  members: veth1',
      '  pods: a b',
      'pod a (bridge, ready) jail jailnet-a',
      '  eth0 on n1: 10.1.0.2/24',
      '  service UDP 10.9.9.9:53 wrr -> 10.1.0.3:53 w2, 192.0.2.7:53 w1',
      'pod b (bridge, ready) jail jailnet-b',
      '  eth0 on n1: 10.1.0.3/24',
      '  eth1 (tap tap3, kata-network): 172.16.0.3/16',
      '  route 10.2.0.0/16 via 172.16.0.1 dev eth1 (kata-network)',
      '  route 10.4.0.5 dev eth0 (kata-network)',
      '  added outside jailnet: interface epair4b, address 192.0.2.9 on eth0',
      '  containers: c"1',
      'pod c (container, ready) jail jailnet-a.c shares a',
    ].join('\n'),
  );
});

t.test("renderers as data: a network's container names and each pod's own", async (t) => {
  const topology: Topology = {
    host: 'freebsd',
    networks: [
      { name: 'web', bridge: 'bridge0', subnets: ['10.1.0.0/24'], members: [], pods: ['a'], dns: { domain: 'dns.podman', served: [{ containerId: 'c1', names: ['a', 'www'], addresses: ['10.1.0.2'] }, { containerId: 'c2', names: ['db'], addresses: ['10.1.0.3', 'fd00::3'] }] } },
      { name: 'quiet', subnets: ['10.2.0.0/24'], members: [], pods: [], dns: { domain: 'dns.podman', served: [] } },
    ],
    pods: [{ name: 'a', mode: 'bridge', state: 'ready', jail: 'jailnet-a', attachments: [{ network: 'web', ifname: 'eth0', addresses: ['10.1.0.2/24'], names: ['a', 'www'] }], containers: [], ports: [], services: [], ...NONE_ADDED }],
  };
  t.equal(
    topologyText(topology),
    [
      'network web: bridge bridge0 10.1.0.0/24',
      '  members: -',
      '  pods: a',
      '  names (dns.podman): a,www 10.1.0.2; db 10.1.0.3,fd00::3',
      'network quiet: bridge - 10.2.0.0/24',
      '  members: -',
      '  pods: -',
      '  names (dns.podman): -',
      'pod a (bridge, ready) jail jailnet-a',
      '  eth0 on web: 10.1.0.2/24 names a, www',
    ].join('\n'),
  );
  const dot = topologyDot(topology);
  t.match(dot, /"pod:a" \[label="a\\n10\.1\.0\.2\/24\\nnames a, www"\];/, "the pod's names on it");
  t.match(dot, /"net:web" \[label="web\\nbridge bridge0\\n10\.1\.0\.0\/24\\nnames: dns\.podman" shape=ellipse\];/, 'the network says it has names');
});
