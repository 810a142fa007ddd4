// The global options where podman users type them: after the subcommand as well as before
// it (`jailnet pod inspect p1 --json`), with the same effect; after `--` they belong to
// the container's command, never to jailnet.
import t from 'tap';
import { podLab } from './helpers/pods.js';

t.setTimeout(300_000);

t.test('--json, --dry-run, --log-level and --config after the subcommand', async (t) => {
  const lab = await podLab(t);
  t.equal((await lab.jailnet(['network', 'create', 'net1', '--subnet', '10.89.70.0/24'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'create', 'p1', '--network', 'net1'])).code, 0);
  const before = await lab.jailnet(['--json', 'pod', 'ls']);
  const after = await lab.jailnet(['pod', 'ls', '--json']);
  t.equal(after.code, 0, after.stderr);
  t.same(JSON.parse(after.stdout), JSON.parse(before.stdout), 'pod ls --json is --json pod ls');
  t.match(JSON.parse((await lab.jailnet(['network', 'ls', '--json'])).stdout), [{ name: 'net1' }]);

  const planned = await lab.jailnet(['pod', 'create', 'p2', '--network', 'net1', '--dry-run']);
  t.equal(planned.code, 0, planned.stderr);
  t.match(planned.stdout, /jail -c/, 'a plan is printed');
  t.equal((await lab.jailnet(['pod', 'inspect', 'p2'])).code, 1, 'and nothing was created');

  const bad = await lab.jailnet(['pod', 'ls', '--log-level', 'loud']);
  t.equal(bad.code, 2, 'a usage error, as before the subcommand');
  t.match(bad.stderr, /option '--log-level <level>' argument 'loud' is invalid/, 'the choices hold after the subcommand too');
  const missingConfig = await lab.jailnet(['pod', 'ls', '--config', '/nonexistent/jailnet.conf']);
  t.not(missingConfig.code, 0, '--config after the subcommand is read');
  t.match(missingConfig.stderr, /nonexistent/);

  t.equal((await lab.jailnet(['container', 'add', 'p1', 'c1', '--path', '/'])).code, 0);
  const passed = await lab.jailnet(['--dry-run', 'container', 'exec', 'p1', 'c1', '--', '/bin/echo', '--json']);
  t.equal(passed.code, 0, passed.stderr);
  t.match(passed.stdout, /\/bin\/echo --json/, "after -- it is the container's argument");
  t.throws(() => JSON.parse(passed.stdout), SyntaxError, 'and jailnet did not take it: the plan is text');
});
