// Repair on Linux, for real. jailnet runs inside a scratch namespace standing in for the
// host (its own `inet jailnet` table, bridge and run directory), so flushing and deleting
// that table cannot touch the machine's or another test's. Two pods publish ports; `nft
// flush table` and `nft delete table` are repaired by `jailnet repair` (the ports answer
// again, ten more repairs change nothing); a bridge set down comes back up; an address
// added by hand in a pod is recorded, shown by `pod inspect`, and gone after `pod rm`.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import t from 'tap';
import { fetchFrom, missingPrerequisite, netnsAdd, netnsRemove, scratchDir, serveHttp, sh } from './helpers/linux.js';
import { socketDir, startDaemonProcess } from './helpers/daemon.js';
import { within } from './helpers/within.js';
import { JAILNET, run, type Run } from './helpers/run.js';

const HOST_NS = 'jnt-rphost';
const BRIDGE = 'jnt-rp0';
const PODS = ['jnt-rpa', 'jnt-rpb'] as const;
const GATEWAY = '10.246.40.1';

interface ScratchHost {
  /** `jailnet …` inside the scratch host namespace. */
  cli(...args: string[]): Promise<Run>;
  /** A command run inside the scratch host namespace. */
  inHost(file: string, args: string[]): ReturnType<typeof sh>;
  nsPath: string;
  conf: string;
  dir: string;
  env: Record<string, string | undefined>;
}

function scratchHost(label: string, ns: string, extraConf = ''): ScratchHost {
  const dir = scratchDir(label);
  const conf = path.join(dir, 'jailnet.conf');
  mkdirSync(path.join(dir, 'net.d'), { recursive: true });
  writeFileSync(conf, `[runtime]\nstate_dir = ${path.join(dir, 'state')}\ncni_config_dir = ${path.join(dir, 'net.d')}\nteardown_timeout = 10\n${extraConf}`);
  const nsPath = netnsAdd(ns);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const env = { PATH: process.env.PATH, JAILNET_RUN_DIR: path.join(dir, 'run'), JAILNET_HOST: 'linux' };
  return {
    nsPath,
    conf,
    dir,
    env,
    // nsenter, not `ip netns exec`: the pods' namespaces jailnet adds must be seen from outside (ip netns exec's mounts stay its own).
    cli: (...args) => run('/usr/bin/nsenter', [`--net=${nsPath}`, '--', process.execPath, JAILNET, '--config', conf, ...args], env),
    inHost: (file, args) => sh('nsenter', [`--net=${nsPath}`, '--', file, ...args], { allowFailure: true }),
  };
}


const missing = missingPrerequisite();
if (missing) {
  t.fail(`cannot run the Linux repair tests: ${missing}`);
} else {
  t.test('nft flush and delete, a bridge down, an address by hand: repaired, recorded, gone with the pod', async (t) => {
    t.teardown(() => {
      for (const pod of PODS) netnsRemove(`jailnet-${pod}`);
      netnsRemove(HOST_NS);
    });
    const host = scratchHost('repair-linux', HOST_NS);
    t.equal((await host.cli('network', 'create', 'jntrp', '--subnet', '10.246.40.0/24', '--bridge', BRIDGE)).code, 0);
    for (const [i, pod] of PODS.entries()) {
      const created = await host.cli('pod', 'create', pod, '--network', 'jntrp', '-p', `1855${i}:80`);
      t.equal(created.code, 0, created.stderr);
      serveHttp(`/run/netns/jailnet-${pod}`, `${pod}\n`);
    }
    const answers = () => PODS.map((pod, i) => fetchFrom(host.nsPath, `http://${GATEWAY}:1855${i}/`).body);
    t.same(answers(), ['jnt-rpa\n', 'jnt-rpb\n'], 'both published ports answer');
    const table = () => host.inHost('nft', ['list', 'table', 'inet', 'jailnet']).stdout;
    const before = table();

    for (const [what, argv] of [
      ['flush', ['flush', 'table', 'inet', 'jailnet']],
      ['delete', ['delete', 'table', 'inet', 'jailnet']],
    ] as const) {
      host.inHost('nft', [...argv]);
      t.notSame(answers(), ['jnt-rpa\n', 'jnt-rpb\n'], `nft ${what} table: the ports no longer answer`);
      const status = await host.cli('status');
      t.equal(status.code, 1, `status sees the ${what}`);
      t.match(status.stdout, /^FAIL {2}pod jnt-rpa: eth0: published port 18550\/tcp -> 10\.246\.40\.\d+:80 missing — fix: jailnet repair jnt-rpa$/m);
      const repaired = await host.cli('repair');
      t.equal(repaired.code, 0, repaired.stderr);
      t.match(repaired.stdout, /^fixed pod jnt-rpb: eth0: published port 18551/m);
      t.same(answers(), ['jnt-rpa\n', 'jnt-rpb\n'], `after nft ${what} table and repair: both ports answer again`);
      t.equal(table(), before, 'the table is the one of before');
      for (let i = 0; i < 10; i++) t.equal((await host.cli('repair')).stdout.trim(), 'nothing to repair', `repair ${i + 2} after the ${what}: nothing`);
      t.equal(table(), before, 'ten repairs later: the same table');
    }

    host.inHost('ip', ['link', 'set', BRIDGE, 'down']);
    t.match((await host.cli('status')).stdout, /^FAIL {2}pod jnt-rpa: bridge jnt-rp0 is down/m);
    t.equal((await host.cli('repair')).code, 0);
    t.match(host.inHost('ip', ['-j', 'link', 'show', BRIDGE]).stdout, /"UP"/, 'the bridge is up again');
    t.same(answers(), ['jnt-rpa\n', 'jnt-rpb\n'], 'and the ports answer');

    sh('ip', ['-n', 'jailnet-jnt-rpa', 'addr', 'add', '192.0.2.77/32', 'dev', 'eth0']);
    t.match((await host.cli('status')).stdout, /^FAIL {2}pod jnt-rpa: added by someone else, not yet recorded: address 192\.0\.2\.77 on eth0/m);
    t.equal((await host.cli('repair', 'jnt-rpa')).code, 0);
    const inspected = JSON.parse((await host.cli('pod', 'inspect', 'jnt-rpa')).stdout) as { observed?: unknown };
    t.same(inspected.observed, { interfaces: [], addresses: [{ interface: 'eth0', address: '192.0.2.77' }], routes: [] }, 'pod inspect shows it');
    t.equal((await host.cli('status')).code, 0, 'recorded: no drift');
    for (const pod of PODS) t.equal((await host.cli('pod', 'rm', pod)).code, 0);
    t.equal(sh('ip', ['netns', 'list']).stdout.includes('jailnet-jnt-rpa'), false, 'the pod and what was added to it are gone');
    t.equal(host.inHost('nft', ['list', 'table', 'inet', 'jailnet']).code, 1, 'no table is left');
  });

  t.test('netmon in jailnetd: nft flush repaired within 2 s, a bridge brought back up, an address recorded, no monitor left', async (t) => {
    const ns = 'jnt-rmhost';
    const bridge = 'jnt-rm0';
    const pods = ['jnt-rma', 'jnt-rmb'];
    t.teardown(() => {
      for (const pod of pods) netnsRemove(`jailnet-${pod}`);
      netnsRemove(ns);
    });
    const host = scratchHost('netmon-linux', ns, '[netmon]\nenable_netmon = true\n');
    t.equal((await host.cli('network', 'create', 'jntrm', '--subnet', '10.246.41.0/24', '--bridge', bridge)).code, 0);
    for (const [i, pod] of pods.entries()) {
      t.equal((await host.cli('pod', 'create', pod, '--network', 'jntrm', '-p', `1856${i}:80`)).code, 0);
      serveHttp(`/run/netns/jailnet-${pod}`, `${pod}\n`);
    }
    const answers = () => pods.map((pod, i) => fetchFrom(host.nsPath, `http://10.246.41.1:1856${i}/`).body);
    t.same(answers(), ['jnt-rma\n', 'jnt-rmb\n']);
    const socket = path.join(await socketDir(t), 'jailnetd.sock');
    const daemon = await startDaemonProcess(t, host.env, socket, ['--config', host.conf, '--log-level', 'info'], ['nsenter', `--net=${host.nsPath}`, '--']);
    const monitors = () => sh('pgrep', ['-f', '^/[a-z/]*ip monitor link address route$'], { allowFailure: true }).stdout.split('\n').filter(Boolean);
    t.not(await within(10_000, () => monitors().length === 3), undefined, 'an ip monitor for the host and each pod');

    host.inHost('nft', ['flush', 'table', 'inet', 'jailnet']);
    const repaired = await within(5_000, () => isDeepStrictEqual(answers(), ['jnt-rma\n', 'jnt-rmb\n']));
    t.ok(repaired !== undefined && repaired <= 2_000, `both ports answer again within 2 s (${repaired} ms)`);

    host.inHost('ip', ['link', 'set', bridge, 'down']);
    const up = await within(5_000, () => /"UP"/.test(host.inHost('ip', ['-j', 'link', 'show', bridge]).stdout));
    t.ok(up !== undefined && up <= 2_000, `the bridge is up again within 2 s (${up} ms)`);

    sh('ip', ['-n', 'jailnet-jnt-rma', 'addr', 'add', '192.0.2.78/32', 'dev', 'eth0']);
    const observed = async () => JSON.parse((await host.cli('pod', 'inspect', 'jnt-rma')).stdout).observed?.addresses?.[0]?.address === '192.0.2.78';
    t.not(await within(10_000, observed), undefined, 'the address added by hand shows in pod inspect');
    for (const pod of pods) t.equal((await host.cli('pod', 'rm', pod)).code, 0);
    t.not(await within(5_000, () => monitors().length === 1), undefined, "the removed pods' monitors are gone");
    t.notOk(sh('ip', ['netns', 'list']).stdout.includes('jailnet-jnt-rma'), 'the pod and its address are gone');
    t.equal(await daemon.stop(), 0, 'jailnetd stops on SIGTERM');
    t.not(await within(3_000, () => monitors().length === 0), undefined, 'no monitor is left after the daemon stops');
    t.notMatch(daemon.stderr(), /"level":(40|50)/, 'netmon logged no warning or error');
  });
}
