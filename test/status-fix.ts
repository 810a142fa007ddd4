// `jailnet status --fix [--apply]` on the simulated FreeBSD host: the missing lines
// gathered (what to run now, each file's lines, a pf.conf fragment in pf's order), the
// fragment loaded as an admin would paste it, --apply setting the sysctls, --dry-run
// changing nothing, pkg-message holding the same fragment; and on Linux only Linux checks.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { fixPlan, fixText } from '../src/cli/status-command.js';
import { podLab } from './helpers/pods.js';
import { jailnet, ROOT } from './helpers/run.js';
import { PODMAN_PF_CONF } from './helpers/podnet.js';
import { newSim, tool } from './helpers/sim.js';

t.setTimeout(300_000);

t.test('a fresh host: the fix, the fragment pasted, --apply, then nothing to fix', async (t) => {
  const sim = await newSim(t);
  const env = { ...sim.env, JAILNET_HOST: 'freebsd', JAILNET_CONFIG: path.join(sim.dir, 'none.conf') };
  const run = (...args: string[]) => jailnet(args, env);
  const fix = await run('--json', 'status', '--fix');
  t.equal(fix.code, 1);
  const { fix: plan } = JSON.parse(fix.stdout) as { fix: { now: string[]; files: Record<string, string[]> } };
  t.same(plan.now, ['sysctl net.inet.ip.forwarding=1', 'sysctl net.pf.filter_local=1']);
  const fragment = plan.files['/etc/pf.conf'] as string[];
  t.same(fragment, ['ext_if = "vtnet0"', 'table <cni-nat> persist', 'rdr-anchor "cni-rdr/*"', 'nat-anchor "cni-rdr/*"', 'nat on $ext_if inet from <cni-nat> to any -> ($ext_if)', 'anchor "jailnet-fw"'], 'the uplink is the default route\'s interface, the lines in pf.conf\'s order');
  t.same(plan.files['/etc/rc.conf'], ['pf_enable="YES"', 'gateway_enable="YES"']);
  t.same(plan.files['/etc/sysctl.conf'], ['net.pf.filter_local=1']);
  const message = await fs.readFile(path.join(ROOT, 'ports/net/jailnet/pkg-message'), 'utf8');
  for (const line of fragment) t.ok(message.includes(line), `pkg-message has ${line}`);

  const dry = await run('--dry-run', 'status', '--fix', '--apply');
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /sysctl net\.inet\.ip\.forwarding=1/, 'the dry run shows the sysctls');
  t.equal((await tool(sim, 'sysctl', ['-n', 'net.inet.ip.forwarding'])).stdout, '0\n', 'and sets none');

  t.equal((await tool(sim, 'pfctl', ['-f', '-'], `${fragment.join('\n')}\n`)).code, 0, 'the fragment loads as pasted');
  t.equal((await tool(sim, 'pfctl', ['-e'])).code, 0);
  const applied = await run('status', '--fix', '--apply');
  t.equal(applied.code, 0, applied.stdout);
  t.match(applied.stdout, /^applied: net\.inet\.ip\.forwarding=1, net\.pf\.filter_local=1\n/);
  t.match(applied.stdout, /\n\nNothing to fix\.\n$/);
  t.equal((await tool(sim, 'sysctl', ['-n', 'net.pf.filter_local'])).stdout, '1\n');
  t.equal((await run('status')).code, 0, 'status is clean');
  t.equal((await run('status', '--apply')).code, 1, '--apply without --fix is refused');
});

t.test('an IPv6 network: the IPv6 masquerade and forwarding are checked, the fragment loads, pkg-message has it', async (t) => {
  const lab = await podLab(t);
  const run = (...args: string[]) => lab.jailnet(args);
  const v6 = 'nat on $ext_if inet6 from <cni-nat> to ! ff00::/8 -> ($ext_if)';
  t.notMatch((await run('status')).stdout, /IPv6|inet6/, 'no IPv6 check while no network has IPv6');
  t.equal((await run('network', 'create', 'web6', '--subnet', '10.89.40.0/24', '--ipv6')).code, 0);
  const fix = await run('--json', 'status', '--fix');
  t.equal(fix.code, 1);
  const { checks, fix: plan } = JSON.parse(fix.stdout) as { checks: Array<{ name: string; ok: boolean }>; fix: { now: string[]; files: Record<string, string[]> } };
  t.ok(checks.some((c) => c.name === 'pf.conf masquerades <cni-nat>' && c.ok), 'the lab host masquerades IPv4');
  t.ok(checks.some((c) => c.name === 'pf.conf masquerades <cni-nat> for IPv6' && !c.ok), 'but not IPv6');
  t.ok(checks.some((c) => c.name === 'net.inet6.ip6.forwarding=1' && !c.ok));
  t.same(plan.now, ['sysctl net.inet6.ip6.forwarding=1']);
  t.same(plan.files['/etc/rc.conf'], ['ipv6_gateway_enable="YES"']);
  const fragment = plan.files['/etc/pf.conf'] as string[];
  t.same(fragment, ['ext_if = "vtnet0"', 'table <cni-nat> persist', v6]);
  const message = await fs.readFile(path.join(ROOT, 'ports/net/jailnet/pkg-message'), 'utf8');
  t.ok(message.includes(v6), 'pkg-message has the IPv6 line');

  // The admin's pf.conf with the fragment's line added after their IPv4 nat line.
  const conf = PODMAN_PF_CONF.split('\n').flatMap((line) => (line.includes(' inet from <cni-nat>') ? [line, v6] : [line]));
  const loaded = await tool(lab.sim, 'pfctl', ['-f', '-'], ['ext_if = "vtnet0"', ...conf].join('\n'));
  t.equal(loaded.code, 0, loaded.stderr);
  t.match((await tool(lab.sim, 'pfctl', ['-s', 'nat'])).stdout, /^nat on vtnet0 inet6 from <cni-nat> to ! ff00::\/8 -> \(vtnet0\) round-robin$/m, 'pfctl prints it back as FreeBSD does');
  const applied = await run('status', '--fix', '--apply');
  t.equal(applied.code, 0, applied.stdout);
  t.match(applied.stdout, /^applied: net\.inet6\.ip6\.forwarding=1\n/);
  t.match(applied.stdout, /^ok {4}pf\.conf masquerades <cni-nat> for IPv6$/m);

  // The guide's IFDISABLED paragraph: the pod's address clears it (in6.c in6_control).
  t.equal((await run('pod', 'create', 'p6', '--network', 'web6')).code, 0);
  const { jail } = JSON.parse((await run('pod', 'inspect', 'p6')).stdout) as { jail: string };
  const shown = (await tool(lab.sim, 'ifconfig', ['-j', jail, 'eth0'])).stdout;
  t.match(shown, /^\tinet6 fe80::\S+ prefixlen 64 scopeid/m, 'a link-local address');
  t.match(shown, /^\tinet6 fd[0-9a-f:]+ prefixlen 64$/m, 'the network\'s ULA address');
  t.match(shown, /^\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>$/m, 'and no IFDISABLED');
});

t.test('the plan as data: modules as each host loads them, sysctls as each host sets them', async (t) => {
  const checks = [
    { name: 'a', ok: false, fix: 'x', remedy: [{ module: 'if_bridge' }, { lines: { file: '/etc/rc.conf', text: ['kld_list+="if_bridge"'] } }] },
    { name: 'b', ok: true },
    { name: 'c', ok: false, fix: 'y', remedy: [{ sysctl: { name: 'net.inet.ip.forwarding', value: '1' } }] },
  ];
  t.same(fixPlan('freebsd', checks), { now: ['kldload if_bridge', 'sysctl net.inet.ip.forwarding=1'], files: { '/etc/rc.conf': ['kld_list+="if_bridge"'] } });
  t.same(fixPlan('linux', checks).now, ['modprobe if_bridge', 'sysctl -w net.inet.ip.forwarding=1']);
  t.equal(fixText({ now: [], files: {} }), 'Nothing to fix.');
});

t.test('on Linux: only the Linux driver\'s checks', async (t) => {
  const status = await jailnet(['--host', 'linux', '--json', 'status', '--fix']);
  const { checks, fix } = JSON.parse(status.stdout) as { checks: Array<{ name: string }>; fix: { files: Record<string, string[]> } };
  t.ok(checks.some((c) => c.name.startsWith('nftables')), 'nftables is checked');
  t.notOk(checks.some((c) => /pf|kld|filter_local/.test(c.name)), "no FreeBSD check");
  t.notOk('/etc/pf.conf' in fix.files, 'no pf.conf advice');
});

t.test('status on a lab host with pods still works (it only reads)', async (t) => {
  const lab = await podLab(t);
  const status = await lab.jailnet(['status']);
  t.equal(status.code, 0, status.stdout);
});
