// 20 containers set up at once on one network through jailnet's netavark (simulated FreeBSD
// host, each call a process of its own as podman makes it): no failure, every address once,
// every published port delivered to its own container; 20 teardowns at once leave nothing.
import path from 'node:path';
import t from 'tap';
import { netavark, networkOptions, type NetworkSpec } from './helpers/netavark.js';
import { hostView, podHost } from './helpers/podnet.js';

t.setTimeout(600_000);

const COUNT = 20;
const WEB: NetworkSpec = { name: 'web', bridge: 'podman1', subnets: [{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }] };
// Never all digits: jail(8) takes a numeric name for a jid and refuses it.
const id = (i: number) => `f${i.toString(16).padStart(3, '0')}`.repeat(16);

t.test(`${COUNT} setups at once on one network, then ${COUNT} teardowns`, async (t) => {
  const h = await podHost(t);
  for (let i = 0; i < COUNT; i++) await h.jail(id(i));
  const before = hostView(h.sim.state());
  const inputs = Array.from({ length: COUNT }, (_, i) => JSON.stringify(networkOptions(id(i), `c${i}`, [{ network: WEB, ips: [`10.89.0.${i + 2}`] }], [{ container_port: 80, host_port: 9000 + i }])));
  const args = (sub: string, i: number) => ['--config', path.join(h.dir, 'run'), sub, id(i)];
  const setups = await Promise.all(inputs.map((input, i) => netavark(args('setup', i), h.env, input)));
  t.same(setups.filter((r) => r.code !== 0).map((r) => r.stdout), [], 'every setup succeeded');
  const state = h.sim.state();
  const podAddresses = state.ifaces.filter((i) => i.vnet !== 'host' && i.name === 'eth0').flatMap((i) => i.inet.map((a) => a.address)).sort();
  t.same(podAddresses, Array.from({ length: COUNT }, (_, i) => `10.89.0.${i + 2}`).sort(), 'each container has its address, once');
  t.equal(state.ifaces.filter((i) => i.memberOf !== undefined).length, COUNT, `${COUNT} members on the one bridge`);
  t.equal(state.ifaces.filter((i) => i.name === 'podman1').length, 1, 'one bridge');
  for (let i = 0; i < COUNT; i++) {
    t.match(h.sim.reach({ from: 'external', to: '192.0.2.10', port: 9000 + i }), { delivered: true, jails: [id(i)], address: `10.89.0.${i + 2}` }, `port ${9000 + i} reaches container ${i}`);
  }
  const teardowns = await Promise.all(inputs.map((input, i) => netavark(args('teardown', i), h.env, input)));
  t.same(teardowns.filter((r) => r.code !== 0).map((r) => r.stdout), [], 'every teardown succeeded');
  t.same(hostView(h.sim.state()), before, 'the host as before: no interface, rule, table entry or bridge left');
});
