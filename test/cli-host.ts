// Driver selection in the CLI: --host, JAILNET_HOST, and `jailnet host …` against the simulator.
import t from 'tap';
import { missingPrerequisite, netnsAdd, netnsRemove } from './helpers/linux.js';
import { jailnet } from './helpers/run.js';
import { newSim, setup } from './helpers/sim.js';

t.test('jailnet host reads the simulated FreeBSD host', async (t) => {
  const sim = await newSim(t);
  await setup(sim, [['jail', '-c', 'name=pod', 'path=/', 'vnet', 'persist'], ['ifconfig', '-j', 'pod', 'lo0', 'inet', '127.0.0.1/8', 'up']]);
  const ifaces = await jailnet(['--host', 'freebsd', 'host', 'interfaces'], sim.env);
  t.equal(ifaces.code, 0, ifaces.stderr);
  t.match(ifaces.stdout, /^lo0 +up +mtu 16384 127\.0\.0\.1\/8/m);
  t.match(ifaces.stdout, /^vtnet0 +up +mtu 1500 +192\.0\.2\.10\/24$/m);
  const inPod = await jailnet(['--json', '--host', 'freebsd', 'host', 'interfaces', '--vnet', 'pod'], sim.env);
  t.same(inPod.json.map((i: { name: string }) => i.name), ['lo0']);
  const jails = await jailnet(['--json', 'host', 'jails'], { ...sim.env, JAILNET_HOST: 'freebsd' });
  t.match(jails.json, [{ jid: 1, name: 'pod', vnet: 'new', dying: false }], 'JAILNET_HOST picks the driver');
});

t.test('driver choice errors', async (t) => {
  const bad = await jailnet(['--host', 'bsd', 'host', 'jails']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /argument 'bsd' is invalid/);
  const env = await jailnet(['host', 'jails'], { JAILNET_HOST: 'solaris' });
  t.equal(env.stderr, 'jailnet: unknown host driver "solaris" (choose freebsd or linux)\n');
});

t.test('--host linux lists network namespaces as vnet jails', async (t) => {
  const missing = missingPrerequisite();
  if (missing) {
    t.fail(missing);
    return;
  }
  netnsAdd('jnt-clihost');
  t.teardown(() => netnsRemove('jnt-clihost'));
  const linux = await jailnet(['--json', '--host', 'linux', 'host', 'jails']);
  t.equal(linux.code, 0, linux.stderr);
  t.ok((linux.json as Array<{ name: string }>).some((j) => j.name === 'jnt-clihost'));
});

t.test('--host linux status checks what the Linux driver needs, and nothing of FreeBSD', async (t) => {
  const missing = missingPrerequisite();
  if (missing) {
    t.fail(missing);
    return;
  }
  const status = await jailnet(['--host', 'linux', 'status']);
  t.equal(status.code, 0, status.stdout + status.stderr);
  t.match(status.stdout, /^ok {4}nftables usable \(nft list tables\)$/m);
  t.match(status.stdout, /^ok {4}network namespaces/m);
  t.match(status.stdout, /^ok {4}bridge driver loaded or loadable$/m);
  t.notMatch(status.stdout, /pf|kldload|FreeBSD|if_bridge/, 'no FreeBSD advice on Linux');
  const json = await jailnet(['--json', '--host', 'linux', 'status']);
  t.ok((json.json as Array<{ ok: boolean }>).every((c) => c.ok), 'every check holds on a ready machine');
  const noNft = await jailnet(['--host', 'linux', 'status'], { JAILNET_TOOL_PATH: '/nonexistent' });
  t.equal(noNft.code, 1, 'a machine without the tools is not ready');
  t.match(noNft.stdout, /^FAIL  nftables usable \(nft list tables\) — fix: apt-get install nftables/m);
});
