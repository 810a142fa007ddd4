// The simulator's kernel model: vnets and interface moves, epair pairs, jail
// lifecycle (dying, freeing, interfaces going home), and the reachability query.
import t from 'tap';
import { newSim, setup, tool } from './helpers/sim.js';

const POD = (name: string) => ['jail', '-c', `name=${name}`, 'path=/', 'vnet', 'persist', 'children.max=4', `host.hostname=${name}`];

// sys/net/if.c if_vmove: if_detach_internal drops the groups and takes the interface down,
// if_attach_internal gives a cloned interface its cloner's group back.
t.test('moving an interface into a vnet keeps MAC, MTU and description, drops addresses, flags and groups', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [
    POD('pod'),
    ['ifconfig', 'epair', 'create'],
    // The address family word comes right after the name (ifconfig.c main()).
    ['ifconfig', 'epair0b', 'inet', '10.5.0.2/24', 'mtu', '9000', 'description', 'pod eth0', 'group', 'pods', 'up'],
    ['ifconfig', 'epair0b', 'vnet', 'pod'],
  ]);
  const shown = await tool(sim, 'ifconfig', ['-j', 'pod', 'epair0b']);
  t.match(shown.stdout, /^epair0b: flags=8842<BROADCAST,RUNNING,SIMPLEX,MULTICAST> metric 0 mtu 9000\n\tdescription: pod eth0\n/);
  t.notMatch(shown.stdout, /inet 10\.5\.0\.2|pods/);
  t.match(shown.stdout, /\tgroups: epair\n/, "the cloner's group comes back");
  t.equal((await tool(sim, 'ifconfig', ['epair0b'])).stderr, 'ifconfig: interface epair0b does not exist\n', 'gone from the host');
  t.equal((await tool(sim, 'ifconfig', ['-j', 'pod', 'epair0b', '-vnet', 'pod'])).code, 1, '-vnet names the jail from the host side');
  await setup(sim, [['ifconfig', 'epair0b', '-vnet', 'pod']]);
  t.equal((await tool(sim, 'ifconfig', ['epair0b'])).code, 0, '-vnet brings it back');
});

t.test('destroying either end of an epair destroys both, across vnets', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [POD('pod'), ['ifconfig', 'epair', 'create'], ['ifconfig', 'epair0b', 'vnet', 'pod'], ['ifconfig', 'epair0a', 'destroy']]);
  t.equal((await tool(sim, 'ifconfig', ['-j', 'pod', '-l'])).stdout, 'lo0\n');
});

t.test('epair units are per vnet', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [POD('pod'), ['ifconfig', 'epair', 'create']]);
  const inJail = await tool(sim, 'ifconfig', ['-j', 'pod', 'epair', 'create']);
  t.equal(inJail.stdout, 'epair0a\n', 'the jail has its own epair numbering');
});

t.test('jail lifecycle: dying, name reuse, freeing, interfaces going home', async (t) => {
  const sim = await newSim(t, { dyingMs: 60_000 });
  await setup(sim, [
    POD('pod'),
    ['jail', '-c', 'name=pod.c1', 'path=/', 'ip4=inherit', 'ip6=inherit', 'persist'],
    ['ifconfig', 'epair', 'create'],
    ['ifconfig', 'epair0b', 'vnet', 'pod'],
    ['ifconfig', '-j', 'pod', 'epair0b', 'name', 'eth0'],
    ['ifconfig', '-j', 'pod', 'bridge', 'create'],
    ['jail', '-r', 'pod'],
  ]);
  t.equal((await tool(sim, 'jls', ['-d', '-h', 'name', 'dying'])).stdout, 'name dying\npod true\npod.c1 true\n', 'the parent and its child are dying');
  t.equal((await tool(sim, 'jls', ['-h', 'name'])).stdout, 'name\n', 'jls without -d hides them');
  t.equal((await tool(sim, 'jexec', ['pod', '/bin/true'])).stderr, 'jexec: jail "pod" not found\n', 'no jexec into a dying jail');
  t.equal((await tool(sim, 'ifconfig', ['eth0'])).code, 1, 'interfaces stay in the vnet while it is dying');
  t.equal((await tool(sim, 'jail', POD('pod').slice(1))).code, 0, "a dying jail's name can be reused at once");
  await sim.mutate((s) => {
    for (const j of s.jails) if (j.dying) j.dyingUntil = 0;
  });
  const jails = await tool(sim, 'jls', ['-d', '-h', 'jid', 'name', 'dying']);
  t.equal(jails.stdout, 'jid name dying\n3 pod false\n', 'freed; the new pod got the next jid');
  const hostIfaces = await tool(sim, 'ifconfig', ['-l']);
  t.equal(hostIfaces.stdout, 'lo0 vtnet0 epair0a eth0\n', 'the moved-in end came home under its jail name; the bridge cloned inside died');
});

t.test('children.max is enforced from inside a jail', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [['jail', '-c', 'name=flat', 'path=/', 'persist'], ['jail', '-c', 'name=one', 'path=/', 'persist', 'children.max=1']]);
  const bin = sim.env.JAILNET_TOOL_PATH;
  const none = await tool(sim, 'jexec', ['flat', `${bin}/jail`, '-c', 'name=x', 'path=/', 'persist']);
  t.equal(none.stderr, 'jail: jail_set: Operation not permitted\n');
  t.equal((await tool(sim, 'jexec', ['one', `${bin}/jail`, '-c', 'name=a', 'path=/', 'persist'])).code, 0);
  const over = await tool(sim, 'jexec', ['one', `${bin}/jail`, '-c', 'name=b', 'path=/', 'persist']);
  t.equal(over.stderr, 'jail: prison limit exceeded\n');
  t.equal((await tool(sim, 'jls', ['-h', 'name'])).stdout, 'name\nflat\none\none.a\n');
  const relative = await tool(sim, 'jexec', ['one', `${bin}/jls`, '-h', 'name']);
  t.equal(relative.stdout, 'name\na\n', 'names are relative to the caller');
});

t.test('the command log records argv, context and exit code', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [POD('pod')]);
  await tool(sim, 'jexec', ['pod', `${sim.env.JAILNET_TOOL_PATH}/ifconfig`, '-l']);
  await tool(sim, 'ifconfig', ['nope0']);
  await tool(sim, 'ifconfig', ['-j', 'pod', '-l']);
  t.same(sim.log().map((e) => [e.context, e.vnet, e.exitCode, e.argv.join(' ')]), [
    ['host', 'host', 0, POD('pod').join(' ')],
    ['jail:1', 'jail1', 0, 'ifconfig -l'],
    ['host', 'host', 0, `jexec pod ${sim.env.JAILNET_TOOL_PATH}/ifconfig -l`],
    ['host', 'host', 1, 'ifconfig nope0'],
    ['host', 'jail1', 0, 'ifconfig -j pod -l'],
  ]);
});

/** Two pods on one bridge, the host as gateway, the usual podman pf.conf hooks. */
async function twoPods(t: Parameters<typeof newSim>[0]) {
  const sim = await newSim(t);
  const commands: string[][] = [
    ['ifconfig', 'bridge', 'create', 'name', 'cni-podman0'],
    ['ifconfig', 'cni-podman0', 'inet', '10.88.0.1/16', 'up'],
  ];
  ['a', 'b'].forEach((name, i) => {
    commands.push(
      POD(name),
      ['ifconfig', '-j', name, 'lo0', 'inet', '127.0.0.1/8', 'up'],
      ['ifconfig', 'epair', 'create'],
      ['ifconfig', 'cni-podman0', 'addm', `epair${i}a`],
      ['ifconfig', `epair${i}a`, 'up'],
      ['ifconfig', `epair${i}b`, 'vnet', name],
      ['ifconfig', '-j', name, `epair${i}b`, 'name', 'eth0'],
      ['ifconfig', '-j', name, 'eth0', 'inet', `10.88.0.${i + 2}/16`, 'up'],
      ['route', '-j', name, 'add', 'default', '10.88.0.1'],
    );
  });
  await setup(sim, commands);
  return sim;
}

t.test('reachability: pods on a bridge, forwarding, published ports', async (t) => {
  const sim = await twoPods(t);
  const aToB = sim.reach({ from: 'a', to: '10.88.0.3', port: 80 });
  t.match(aToB, { delivered: true, jails: ['b'], address: '10.88.0.3', port: 80 }, aToB.path.join('\n'));
  t.match(sim.reach({ from: 'b', to: '127.0.0.1', port: 80 }), { delivered: true, jails: ['b'] }, "a pod's localhost is its own");
  t.match(sim.reach({ from: 'a', to: '10.88.0.9', port: 80 }), { delivered: false }, 'nobody has 10.88.0.9');
  t.match(sim.reach({ from: 'external', to: '10.88.0.2', port: 80 }), { delivered: false, reason: 'forwarding is off in host' });

  await setup(sim, [['sysctl', 'net.inet.ip.forwarding=1']]);
  t.match(sim.reach({ from: 'external', to: '10.88.0.2', port: 80 }), { delivered: true, jails: ['a'] }, 'routed once forwarding is on');
  t.match(sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 }), { delivered: true, vnet: 'host', port: 8080 }, 'no rdr yet: the host itself');

  await setup(sim, [['pfctl', '-e']]);
  await tool(sim, 'pfctl', ['-f', '-'], 'rdr-anchor "cni-rdr/*"\n');
  await tool(sim, 'pfctl', ['-a', 'cni-rdr/a', '-f', '-'], 'rdr pass inet proto tcp from any to self port 8080 -> 10.88.0.2 port 80\n');
  const expanded = await tool(sim, 'pfctl', ['-P', '-a', 'cni-rdr/a', '-s', 'nat']);
  t.match(expanded.stdout, /to 127\.0\.0\.1 port = 8080[^\n]*\n[^\n]*to 192\.0\.2\.10 port = 8080[^\n]*\n[^\n]*to 10\.88\.0\.1 port = 8080/, '`self` became one rule per host address');
  const published = sim.reach({ from: 'external', to: '192.0.2.10', port: 8080 });
  t.match(published, { delivered: true, jails: ['a'], address: '10.88.0.2', port: 80 }, published.path.join('\n'));
  t.match(sim.reach({ from: 'external', to: '192.0.2.10', port: 8081, proto: 'tcp' }), { vnet: 'host' }, 'other ports are not redirected');
  t.match(sim.reach({ from: 'host', to: '192.0.2.10', port: 8080 }), { vnet: 'host' }, 'host-originated packets skip rdr without net.pf.filter_local');
  await setup(sim, [['sysctl', 'net.pf.filter_local=1']]);
  t.match(sim.reach({ from: 'host', to: '192.0.2.10', port: 8080 }), { jails: ['a'] }, 'and reach the pod with it');
  t.match(sim.reach({ from: 'host', to: '127.0.0.1', port: 8080 }), { jails: ['a'] }, 'localhost too (the rdr has no `on`)');
  await tool(sim, 'pfctl', ['-f', '-'], 'rdr-anchor "cni-rdr/*"\nanchor "jailnet-fw"\n');
  await tool(sim, 'pfctl', ['-a', 'jailnet-fw', '-f', '-'], 'table <pods> { 10.99.0.0/16 }\nblock drop quick inet from 10.88.0.3 to 10.88.0.2\n');
  t.match(sim.reach({ from: 'b', to: '10.88.0.2', port: 80 }), { delivered: true }, 'b reaches a on the bridge, where the host does not route');
  t.match(sim.reach({ from: 'b', to: '192.0.2.10', port: 8080 }), { delivered: false, reason: /blocked by pf/ }, 'but not through the published port: pf filters after rdr');
  t.match(sim.reach({ from: 'external', to: '10.88.0.2', port: 80 }), { delivered: true }, 'other sources pass');
  await tool(sim, 'pfctl', ['-a', 'jailnet-fw', '-f', '-'], 'block drop quick inet from 192.0.2.1 to 10.88.0.2\n');
  const blocked = sim.reach({ from: 'external', to: '10.88.0.2', port: 80 });
  t.match(blocked, { delivered: false, reason: /blocked by pf in host: anchor jailnet-fw: block drop quick inet from 192\.0\.2\.1 to 10\.88\.0\.2/ }, 'filter rules in hooked anchors are applied');
  t.match(sim.reach({ from: 'b', to: '192.0.2.10', port: 8080 }), { delivered: true, jails: ['a'] }, 'another pod reaches the published port');
});
