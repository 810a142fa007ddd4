// Real CNI clients: podman 4.3 and buildah 1.28 with network_backend = "cni" and
// jailnet's libexec/cni as their only plugin directory (the recipe of
// ../shared/reference/cni-protocol.md §3.4, through CONTAINERS_CONF; nothing under /etc
// is edited). Each step is its own test and depends on the previous one.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { defaultStateDir } from '../src/platform.js';
import { DAEMON_SOCKET } from '../src/persistent-names.js';
import { answers, startDaemonProcess } from './helpers/daemon.js';
import { PLUGIN_DIR } from './helpers/run.js';
import { containersConf } from './helpers/podman-cni.js';
import { busyboxPath, fetchFrom, hostAddress, hostLinks, jailnetNft, missingPrerequisite, scratchDir } from './helpers/linux.js';

const missing = missingPrerequisite(['podman', 'buildah', 'runc']);
if (missing) {
  t.fail(`cannot run the podman and buildah tests: ${missing}`);
} else {
  const dir = scratchDir('podman');
  const netd = path.join(dir, 'net.d');
  const rootfs = path.join(dir, 'rootfs');
  mkdirSync(netd, { recursive: true });
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  mkdirSync(path.join(rootfs, 'www'), { recursive: true });
  copyFileSync(busyboxPath(), path.join(rootfs, 'bin', 'busybox'));
  chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of ['sh', 'httpd', 'ip', 'ping', 'true', 'sleep']) symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  writeFileSync(path.join(rootfs, 'www', 'index.html'), 'hello from a podman container\n');

  const hardNofile = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  const hardNproc = spawnSync('sh', ['-c', 'ulimit -Hu'], { encoding: 'utf8' }).stdout.trim();
  const nproc = hardNproc === 'unlimited' ? 32768 : Math.min(32768, Number(hardNproc));
  // Container rlimits above the machine's hard limits make the runtime fail with EPERM;
  // podman lowers its own NPROC to 32768 (the reference's recipe).
  writeFileSync(
    path.join(dir, 'containers.conf'),
    containersConf(['network_backend = "cni"', `cni_plugin_dirs = ["${PLUGIN_DIR}"]`, `network_config_dir = "${netd}"`], { ulimits: `"nofile=${hardNofile}:${hardNofile}", "nproc=${nproc}:${nproc}"` }),
  );
  // jailnet's plugins read the default jailnet.conf here: podman runs some DELs from its
  // cleanup process (started by conmon), which does not inherit this test's environment.
  const records = path.join(defaultStateDir('linux'), 'attachments', 'bridge');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(NODE_OPTIONS|NODE_EXTRA_CA_CERTS|_TAPJS|TAP)/.test(k)));
  delete env.JAILNET_CONFIG;
  Object.assign(env, { CONTAINERS_CONF: path.join(dir, 'containers.conf') });
  const tool = (name: string, ...args: string[]) => {
    // env -i: tap re-injects its loader hooks into any environment given to spawn, and podman hands its environment to the plugins.
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const r = spawnSync('/usr/bin/env', ['-i', ...assignments, name, ...args], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  };
  const podman = (...args: string[]) => tool('podman', ...args);

  /**
   * podman and buildah through the shims, with jailnetd on its default socket (podman's
   * cleanup process does not inherit this test's environment, so only the default is
   * found by every call) or with no daemon at all: the plugin processes of their own.
   */
  const steps = (t: Test, pass: { NETWORK: string; SUBNET: string; PORT: number; CONTAINER: string }) => {
    const { NETWORK, SUBNET, PORT, CONTAINER } = pass;
    let leaseDir = '/var/lib/cni/networks/' + NETWORK;
    let buildahContainer = '';
    let bridge = '';
    t.teardown(() => {
      podman('rm', '-f', '-t', '0', CONTAINER);
      if (buildahContainer) tool('buildah', 'rm', buildahContainer);
      podman('network', 'rm', '-f', NETWORK);
    });

    t.test('podman uses the CNI backend and writes the network with jailnet\'s plugin types', async (t) => {
      t.equal(podman('info', '--format', '{{.Host.NetworkBackend}}').stdout.trim(), 'cni');
      // DNS off: names are test/podman-cni-dns.ts's, in a private host (aardvark would listen on this host's bridge).
      const created = podman('network', 'create', '--disable-dns', '--subnet', `${SUBNET}.0/24`, NETWORK);
      t.equal(created.code, 0, created.stderr);
      const list = JSON.parse(readFileSync(path.join(netd, `${NETWORK}.conflist`), 'utf8'));
      bridge = list.plugins[0].bridge;
      t.same(list.plugins.map((p: { type: string }) => p.type), ['bridge', 'portmap', 'firewall', 'tuning']);
      for (const type of ['bridge', 'portmap', 'firewall', 'tuning', 'host-local']) t.ok(existsSync(path.join(PLUGIN_DIR, type)), `jailnet provides ${type}`);
    });

    t.test('podman run -p answers on the published port', async (t) => {
      const run = podman('run', '-d', '--name', CONTAINER, '--network', NETWORK, '-p', `${PORT}:80`, '--rootfs', rootfs, '/bin/httpd', '-f', '-p', '80', '-h', '/www');
      t.equal(run.code, 0, run.stderr);
      const inspect = JSON.parse(podman('inspect', CONTAINER).stdout)[0];
      const address = inspect.NetworkSettings.Networks[NETWORK].IPAddress;
      t.match(address, new RegExp(`^${SUBNET.replace(/\./g, '\\.')}\\.\\d+$`), 'podman shows the address jailnet gave');
      t.ok(existsSync(path.join(leaseDir, address)), 'host-local holds its lease');
      let answer = { ok: false, body: '' };
      for (let i = 0; i < 20 && !answer.ok; i++) {
        answer = fetchFrom(undefined, `http://127.0.0.1:${PORT}/`);
        if (!answer.ok) await new Promise((r) => setTimeout(r, 100));
      }
      t.same(answer, { ok: true, body: 'hello from a podman container\n' }, 'via 127.0.0.1');
      t.same(fetchFrom(undefined, `http://${hostAddress()}:${PORT}/`), { ok: true, body: 'hello from a podman container\n' }, "via the host's address");
    });

    t.test('podman network reload keeps it answering', async (t) => {
      const reload = podman('network', 'reload', CONTAINER);
      t.equal(reload.code, 0, reload.stderr);
      t.same(fetchFrom(undefined, `http://127.0.0.1:${PORT}/`), { ok: true, body: 'hello from a podman container\n' });
      t.equal(jailnetNft().text.match(new RegExp(`dport ${PORT} dnat`, 'g'))?.length, 1, 'one DNAT rule, not two, after the DEL+ADD of reload');
    });

    t.test('podman rm cleans up', async (t) => {
      const rm = podman('rm', '-f', '-t', '0', CONTAINER);
      t.equal(rm.code, 0, rm.stderr);
      t.same(readdirSync(leaseDir).filter((n) => !/^(lock|last_reserved_ip\.\d+)$/.test(n)), [], 'no lease is left');
      t.notMatch(jailnetNft().text, `dport ${PORT}`, 'no nft rule for the port is left');
      t.notMatch(jailnetNft().text, `${SUBNET}.`, 'no nft entry for the pod is left');
      t.same(hostLinks().filter((l) => l.master === bridge || (l.ifalias ?? '').includes(`network ${NETWORK}`)), [], 'no veth is left');
      t.same(existsSync(records) ? readdirSync(records).filter((n) => n.startsWith(`${NETWORK}-`)) : [], [], 'no jailnet record is left');
      t.notOk(fetchFrom(undefined, `http://127.0.0.1:${PORT}/`).ok, 'the port is closed');
    });

    t.test('buildah run --network reaches the gateway', async (t) => {
      const from = tool('buildah', 'from', 'scratch');
      t.equal(from.code, 0, from.stderr);
      buildahContainer = from.stdout.trim();
      t.equal(tool('buildah', 'copy', buildahContainer, `${rootfs}/`, '/').code, 0);
      const run = tool('buildah', 'run', '--network', NETWORK, buildahContainer, '--', '/bin/sh', '-c', `ip -4 addr show eth0; ping -c 1 -W 2 ${SUBNET}.1`);
      t.equal(run.code, 0, run.stderr);
      t.match(run.stdout, new RegExp(`inet ${SUBNET.replace(/\./g, '\\.')}\\.\\d+/24`), 'eth0 has an address of the network');
      t.match(run.stdout, '1 packets received', 'the gateway answers');
      t.same(readdirSync(leaseDir).filter((n) => !/^(lock|last_reserved_ip\.\d+)$/.test(n)), [], 'the lease is released after the run');
      leaseDir = '';
    });
  };

  t.test('without jailnetd: each plugin call is a process of its own', async (t) => {
    steps(t, { NETWORK: 'jntpodman', SUBNET: '10.243.0', PORT: 18461, CONTAINER: 'jnt-podman-web' });
  });

  t.test('with jailnetd on its default socket: the calls are served by the daemon', async (t) => {
    if (await answers(DAEMON_SOCKET)) return t.fail(`a jailnetd already answers on ${DAEMON_SOCKET}`);
    const daemon = await startDaemonProcess(t, env, DAEMON_SOCKET, ['--log-level', 'info']);
    t.teardown(() => daemon.stop());
    t.test('steps', async (t) => steps(t, { NETWORK: 'jntpodmand', SUBNET: '10.243.1', PORT: 18462, CONTAINER: 'jnt-podmand-web' }));
    t.test('the daemon served podman and buildah', async (t) => {
      // The steps run podman with spawnSync: the daemon's log waits in the pipe until this loop turns.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const served = daemon.stderr().split('\n').filter((line) => line.includes('"msg":"served"'));
      t.ok(served.length > 0, `calls served: ${served.length} (${daemon.stderr().slice(0, 2000)})`);
      // host-local is not a call of its own: bridge runs jailnet's host-local in its own call.
      for (const plugin of ['bridge', 'portmap', 'firewall', 'tuning']) {
        t.ok(served.some((line) => line.includes(`"plugin":"${plugin}"`) && line.includes('"command":"ADD"')), `${plugin} ADD served`);
        t.ok(served.some((line) => line.includes(`"plugin":"${plugin}"`) && line.includes('"command":"DEL"')), `${plugin} DEL served`);
      }
    });
  });
}
