// The test kit stays in its box: jexec on the simulator runs simulated tools only, never
// a program of the machine the tests run on (which is root on a real network), and a
// crash injection kills only the command it was aimed at.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { crashAfter } from './helpers/crash.js';
import { podLab, root } from './helpers/pods.js';
import { tool } from './helpers/sim.js';

/** This machine's own interfaces, addresses and routes, as `ip -j` prints them. */
function machineNetwork(): { addr: unknown; route: unknown; route6: unknown } {
  const read = (args: string[]) => JSON.parse(execFileSync('ip', ['-j', ...args], { encoding: 'utf8' })) as unknown;
  return { addr: read(['addr']), route: read(['route']), route6: read(['-6', 'route']) };
}

t.test('jexec runs the simulated tools for FreeBSD base paths and bare names', async (t) => {
  const lab = await podLab(t);
  t.equal((await lab.jailnet(['network', 'create', 'net1', '--subnet', '10.5.0.0/24'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'create', 'p1', '--network', 'net1'])).code, 0);
  t.equal((await lab.jailnet(['container', 'add', 'p1', 'c1', '--path', root(lab, 'c1')])).code, 0);
  const before = machineNetwork();

  const down = await tool(lab.sim, 'jexec', ['jailnet-p1', '/sbin/ifconfig', 'eth0', 'down']);
  t.equal(down.code, 0, down.stderr);
  const eth0 = () => lab.sim.state().ifaces.find((i) => i.name === 'eth0' && i.vnet !== 'host');
  t.equal(eth0()?.up, false, "the pod's simulated eth0 went down");
  const up = await tool(lab.sim, 'jexec', ['jailnet-p1', 'ifconfig', 'eth0', 'up'], '', { PATH: '/usr/sbin:/sbin:/usr/bin:/bin' });
  t.equal(up.code, 0, 'a bare name is the simulated tool, whatever PATH says');
  t.equal(eth0()?.up, true);

  // The finding's own command: from a container it is refused as FreeBSD refuses it.
  const replaced = await tool(lab.sim, 'jexec', ['jailnet-p1.c1', '/sbin/ifconfig', 'eth0', 'inet', '10.5.0.12/24']);
  t.equal(replaced.code, 1);
  // ifconfig.c Perror: EPERM on the deferred address change reads "permission denied".
  t.equal(replaced.stderr, 'ifconfig: ioctl (SIOCAIFADDR): permission denied\n');
  const fromPod = await tool(lab.sim, 'jexec', ['jailnet-p1', '/sbin/ifconfig', 'eth0', 'inet', '10.5.0.12/24', 'alias']);
  t.equal(fromPod.code, 0, fromPod.stderr);
  t.ok(eth0()?.inet.some((a) => a.address === '10.5.0.12'), 'the simulated address was added in the pod');

  const exec = await lab.jailnet(['container', 'exec', 'p1', 'c1', '--', '/sbin/ifconfig', '-l']);
  t.equal(exec.stdout, 'lo0 eth0\n', 'jailnet container exec reaches the simulated container');
  const execChange = await lab.jailnet(['container', 'exec', 'p1', 'c1', '--', '/sbin/route', 'add', 'default', '10.5.0.1']);
  t.equal(execChange.code, 1);
  t.match(execChange.stderr, /Operation not permitted/, 'and a change from the container is refused');

  t.same(machineNetwork(), before, "this machine's interfaces, addresses and routes are as they were");
});

t.test('anything else fails as a missing file would, and starts nothing', async (t) => {
  const lab = await podLab(t);
  t.equal((await lab.jailnet(['pod', 'create', 'p1', '--mode', 'none'])).code, 0);
  const marker = path.join(lab.dir, 'started');
  const before = machineNetwork();
  const commands = [
    ['/usr/bin/touch', marker],
    ['touch', marker],
    ['/usr/sbin/ip', 'link', 'set', 'lo', 'down'],
    ['/usr/bin/env', 'touch', marker],
    ['/sbin/../usr/bin/touch', marker],
    ['/usr/sbin/ifconfig', '-l'],
    [`${lab.sim.env.JAILNET_TOOL_PATH}/../../../node_modules/.bin/tap`],
  ];
  for (const argv of commands) {
    const result = await tool(lab.sim, 'jexec', ['jailnet-p1', ...argv]);
    t.equal(result.code, 1, `${argv.join(' ')} is refused`);
    t.equal(result.stderr, `jexec: execvp: ${argv[0]}: No such file or directory\n`, 'with the text jexec prints');
  }
  const shell = await tool(lab.sim, 'jexec', ['jailnet-p1']);
  t.equal(shell.stderr, 'jexec: execvp: /bin/sh: No such file or directory\n', 'no command: the shell, which the simulator does not have');
  t.notOk(existsSync(marker), 'no program of this machine ran');
  t.same(machineNetwork(), before);
});

t.test('a fixture runs only from a directory the test names, with simulated tools on its PATH', async (t) => {
  const lab = await podLab(t);
  t.equal((await lab.jailnet(['pod', 'create', 'p1', '--mode', 'none'])).code, 0);
  const fixtures = path.join(lab.dir, 'fixtures');
  await fs.mkdir(fixtures);
  const script = path.join(fixtures, 'list.sh');
  await fs.writeFile(script, '#!/bin/sh\nifconfig -l\n', { mode: 0o755 });
  const refused = await tool(lab.sim, 'jexec', ['jailnet-p1', script]);
  t.equal(refused.code, 1, 'not without naming its directory');
  const ran = await tool(lab.sim, 'jexec', ['jailnet-p1', script], '', { JAILNET_SIM_EXEC_DIRS: fixtures });
  t.equal(ran.code, 0, ran.stderr);
  t.equal(ran.stdout, 'lo0\n', "the fixture's bare ifconfig is the simulated one, inside the jail");
});

t.test('a crash injection kills the command it was aimed at and nothing else', async (t) => {
  const lab = await podLab(t);
  // A bystander in the test runner's own process group.
  const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => bystander.kill('SIGKILL'));
  const { run, killedAfter } = await crashAfter(lab.sim, 2, lab.launch(['pod', 'create', 'p1', '--mode', 'none']));
  t.ok(killedAfter, `killed after ${killedAfter}`);
  t.equal(run.code, -1, 'the command died by a signal');
  t.equal(bystander.exitCode, null, 'the bystander in the test runner’s group lives on');
  t.doesNotThrow(() => process.kill(bystander.pid as number, 0));
  // Without the test's marker the same command runs through.
  const plain = await lab.jailnet(['pod', 'create', 'p2', '--mode', 'none']);
  t.equal(plain.code, 0, plain.stderr);
});
