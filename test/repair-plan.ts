// The pure parts of repair: the desired state computed from records, a pod's vnet
// compared with it, and the repair steps as data.
import t from 'tap';
import type { AttachmentRecord } from '../src/plugins/attachment-record.js';
import type { PodRecord } from '../src/pods/store.js';
import { podNetDiff, type VnetView } from '../src/repair/audit.js';
import { desiredState, routeKey, type Records } from '../src/repair/desired.js';

const bridge = (jail: string, containerId: string, address: string, ipMasq = true): AttachmentRecord => ({
  network: 'web',
  containerId,
  ifname: 'eth0',
  netns: jail,
  cniVersion: '1.0.0',
  plugin: { type: 'bridge' },
  jail,
  bridge: 'cni0',
  hostInterface: `jn${containerId}`,
  addresses: [address],
  ipMasq,
});

const pod = (name: string, address: string, extra: Partial<PodRecord> = {}): PodRecord => ({
  name,
  jail: `jailnet-${name}`,
  mode: 'bridge',
  state: 'ready',
  creatorPid: 1,
  containerId: `jailnet-${name}`,
  networks: [{ name: 'web', ifname: 'eth0', result: { ips: [{ address: `${address}/24`, gateway: '10.9.0.1' }], routes: [{ dst: '0.0.0.0/0' }] } }],
  ports: [],
  aliases: [],
  restart: 'no',
  containers: [],
  runtime: { interfaces: [], routes: [] },
  observed: { interfaces: [], addresses: [], routes: [] },
  ...extra,
});

const records = (over: Partial<Records> = {}): Records => ({
  bridges: [bridge('jailnet-a', 'jailnet-a', '10.9.0.2'), bridge('podman-ctr', 'ctr', '10.9.0.3', false)],
  publications: [
    { network: 'web', containerId: 'jailnet-a', ifname: 'eth0', publication: { owner: { containerId: 'jailnet-a', ifname: 'eth0' }, forwards: [{ protocol: 'tcp', hostPort: 8080, podAddress: '10.9.0.2', podPort: 80 }] } },
    // A record of an earlier version, without the publication: nothing to put back from it.
    { network: 'web', containerId: 'ctr', ifname: 'eth0' },
  ],
  isolation: [{ subnets: ['10.9.0.0/24'], isolated: true }],
  tunings: [{ jail: 'jailnet-a', sysctl: { 'net.inet.tcp.msl': '5000' } }, { jail: 'podman-ctr', sysctl: { 'net.inet.ip.ttl': '32', 'net.inet.tcp.msl': '1000' } }],
  pods: [pod('a', '10.9.0.2')],
  sandboxOf: (jail) => jail,
  ...over,
});

t.test('the desired state: by pod, a runtime container by its sandbox, each bridge once', async (t) => {
  const desired = desiredState(records());
  t.same(desired.publications.map((p) => [p.pod, p.publication.forwards[0]?.hostPort]), [['a', 8080]]);
  t.same(desired.masqueraded, [{ pod: 'a', address: '10.9.0.2' }], 'only ipMasq attachments');
  t.same(desired.isolation, { podSubnets: ['10.9.0.0/24'], isolated: ['10.9.0.0/24'] });
  t.same(
    desired.links.map((l) => `${l.pod} ${l.role} ${l.name}${l.vnet ? ` in ${l.vnet}` : ''}`),
    ['a bridge cni0', 'a host end jnjailnet-a', 'a pod interface eth0 in jailnet-a', 'podman-ctr host end jnctr', 'podman-ctr pod interface eth0 in podman-ctr'],
  );
  t.same(desired.pods.map((p) => [p.pod, [...p.interfaces], p.routes]), [['a', [['eth0', ['10.9.0.2/24']]], ['0.0.0.0/0 via 10.9.0.1']]]);
  t.same(desired.sysctls, [
    { pod: 'a', vnet: 'jailnet-a', key: 'net.inet.tcp.msl', value: '5000' },
    { pod: 'podman-ctr', vnet: 'podman-ctr', key: 'net.inet.ip.ttl', value: '32' },
    { pod: 'podman-ctr', vnet: 'podman-ctr', key: 'net.inet.tcp.msl', value: '1000' },
  ], "the tuning plugin's sysctls, by pod or sandbox");
  t.same(desired.balancers, [], 'no pod has balancer rules');
  const creating = desiredState(records({ pods: [pod('a', '10.9.0.2', { state: 'creating' })] }));
  t.same(creating.pods, [], "a pod being created is not audited inside");
});

t.test('route keys: default, bare hosts and prefixes spelled one way', async (t) => {
  t.equal(routeKey('default', '10.9.0.1', 4), '0.0.0.0/0 via 10.9.0.1');
  t.equal(routeKey('0.0.0.0/0', '10.9.0.1', 4), '0.0.0.0/0 via 10.9.0.1');
  t.equal(routeKey('198.51.100.7', '10.9.0.1', 4), '198.51.100.7/32 via 10.9.0.1');
  t.equal(routeKey('default', 'fd00::1', 6), '::/0 via fd00::1');
});

t.test("a pod's vnet against its records", async (t) => {
  const [net] = desiredState(records()).pods;
  const view = (over: Partial<VnetView> = {}): VnetView => ({ interfaces: new Map([['eth0', ['10.9.0.2']]]), routes: ['0.0.0.0/0 via 10.9.0.1'], ...over });
  t.same(podNetDiff(net!, view()), [], 'as recorded: nothing');
  t.same(
    podNetDiff(net!, view({ interfaces: new Map([['eth0', []]]), routes: [] })).map((d) => d.repair),
    [
      { kind: 'address', name: 'eth0', cidr: '10.9.0.2/24', vnet: 'jailnet-a' },
      { kind: 'route', destination: '0.0.0.0/0', gateway: '10.9.0.1', vnet: 'jailnet-a' },
    ],
    'an address and the default route gone: put back',
  );
  const added = podNetDiff(net!, view({ interfaces: new Map([['eth0', ['10.9.0.2', '192.0.2.9']], ['tap7', ['192.0.2.1']]]), routes: ['0.0.0.0/0 via 10.9.0.1', '198.51.100.0/24 via 10.9.0.9'] }));
  t.same(added.map((d) => d.what), ['added by someone else, not yet recorded: interface tap7, address 192.0.2.9 on eth0, route 198.51.100.0/24 via 10.9.0.9']);
  const observed = { interfaces: ['tap7'], addresses: [{ interface: 'eth0', address: '192.0.2.9' }], routes: ['198.51.100.0/24 via 10.9.0.9'] };
  const [recorded] = desiredState(records({ pods: [pod('a', '10.9.0.2', { observed })] })).pods;
  t.same(podNetDiff(recorded!, view({ interfaces: new Map([['eth0', ['10.9.0.2', '192.0.2.9']], ['tap7', []]]), routes: ['0.0.0.0/0 via 10.9.0.1', '198.51.100.0/24 via 10.9.0.9'] })), [], 'recorded: no drift');
  const gone = podNetDiff(recorded!, view());
  t.same(gone.map((d) => d.repair), [{ kind: 'observe', pod: 'a', found: { interfaces: [], addresses: [], routes: [] }, gone: observed }], 'what someone else added and took away again is forgotten, never put back');
});
