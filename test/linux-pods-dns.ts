// jailnet's own pods by name (issue 31) on Linux, for real, in a private mount and network
// namespace (fixtures/private-host.mjs) so that aardvark-dns listens only on a gateway inside
// it: `jailnet network create --dns` writes the dnsname plugin; a pod resolves another by its
// pod name and --alias (a container of the pod asks, as it shares the pod's network); a pod
// removed is gone from DNS; network rm leaves no aardvark process or file. Bad aliases and
// --dns with --internal are refused before anything changes.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { missingPrerequisite, scratchDir } from './helpers/linux.js';
import { JAILNET } from './helpers/run.js';
import { privateHost } from './fixtures/private-host.mjs';

t.setTimeout(300_000);

const AARDVARK = '/usr/lib/podman/aardvark-dns';
const missing = missingPrerequisite(['unshare', 'busybox']) ?? (existsSync(AARDVARK) ? undefined : `${AARDVARK} is missing (install.sh installs aardvark-dns)`);

if (missing) {
  t.fail(`cannot run the pod DNS test: ${missing}`);
} else {
  const dir = scratchDir('pods-dns');
  const conf = path.join(dir, 'jailnet.conf');
  writeFileSync(conf, `[runtime]\ncni_config_dir = ${path.join(dir, 'net.d')}\n`);
  writeFileSync(path.join(dir, 'containers.conf'), '');
  const host = await privateHost(path.join(dir, 'containers.conf'));
  t.teardown(() => host.stop());
  const env = { PATH: process.env.PATH };
  const jailnet = (...args: string[]) => host.run([process.execPath, JAILNET, '--config', conf, ...args], env);
  const lookup = (pod: string, name: string) => {
    const answer = jailnet('container', 'exec', pod, 'c', '--', 'busybox', 'nslookup', name, '10.250.1.1');
    return /Name:[^\n]*\nAddress: (\S+)/.exec(answer.stdout)?.[1] ?? `${answer.stdout}${answer.stderr}`.trim();
  };
  const addressOf = (created: { stdout: string }) => (JSON.parse(created.stdout).interfaces[0].addresses[0] as string).split('/')[0];

  t.test('network create --dns; pods resolve each other by name and alias', async (t) => {
    const refused = jailnet('network', 'create', 'jnx', '--internal', '--dns');
    t.equal(refused.code, 1, 'no --dns on an internal network');
    t.match(refused.stderr, /--dns needs the gateway --internal leaves out/);
    const created = jailnet('network', 'create', 'jnn', '--subnet', '10.250.1.0/24', '--dns');
    t.equal(created.code, 0, created.stderr);
    const badAlias = jailnet('pod', 'create', 'pz', '--network', 'jnn', '--alias', 'a.b');
    t.equal(badAlias.code, 1, 'an alias with a dot is refused');
    t.match(badAlias.stderr, /alias "a\.b" is not a DNS label/);
    t.equal(jailnet('pod', 'ls').stdout.includes('pz'), false, 'and no pod was made');
    const a = jailnet('--json', 'pod', 'create', 'pa', '--network', 'jnn', '--alias', 'web');
    t.equal(a.code, 0, a.stderr);
    const b = jailnet('--json', 'pod', 'create', 'pb', '--network', 'jnn');
    t.equal(b.code, 0, b.stderr);
    for (const pod of ['pa', 'pb']) t.equal(jailnet('container', 'add', pod, 'c', '--path', '/').code, 0, `a container in ${pod}`);
    t.equal(lookup('pb', 'pa'), addressOf(a), 'pb resolves pa by its pod name');
    t.equal(lookup('pb', 'web'), addressOf(a), 'and by its alias');
    t.equal(lookup('pb', 'pa.dns.podman'), addressOf(a), 'under the domain');
    t.equal(lookup('pa', 'pb'), addressOf(b), 'pa resolves pb');
  });

  t.test('a pod removed is gone from DNS; network rm leaves nothing of aardvark', async (t) => {
    t.equal(jailnet('pod', 'rm', '--force', 'pa').code, 0, 'pod rm pa');
    let answer = lookup('pb', 'pa');
    for (let i = 0; i < 10 && !/NXDOMAIN/.test(answer); i++) {
      await sleep(100);
      answer = lookup('pb', 'pa');
    }
    t.match(answer, /NXDOMAIN/, 'pa no longer resolves');
    t.equal(jailnet('pod', 'rm', '--force', 'pb').code, 0, 'pod rm pb');
    t.equal(jailnet('network', 'rm', 'jnn').code, 0, 'network rm');
    let pids = host.pids('aardvark-dns').join(' ');
    for (let i = 0; i < 20 && pids !== ''; i++) {
      await sleep(100);
      pids = host.pids('aardvark-dns').join(' ');
    }
    t.equal(pids, '', 'aardvark-dns exited with the last name');
    t.equal(host.run(['ls', '-A', '/run/jailnet/aardvark-dns'], env).stdout.trim(), '', 'no network file is left');
  });
}
