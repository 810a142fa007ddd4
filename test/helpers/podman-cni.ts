// A lab for real podman 4.3.1 with its CNI backend and jailnet's plugin directory, for a
// private host (fixtures/private-host.mjs): a busybox root filesystem serving `body` over
// httpd, and a containers.conf that points podman at libexec/cni and a scratch net.d
// (containersConf, which the other podman tests use too).
import { chmodSync, copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DAEMON_SOCKET } from '../../src/persistent-names.js';
import type { PrivateHost } from '../fixtures/private-host.mjs';
import { busyboxPath, scratchDir } from './linux.js';
import { JAILNET, PLUGIN_DIR } from './run.js';

export function podmanCniLab(label: string, body: string, applets: string[]): { rootfs: string; conf: string; netd: string } {
  const dir = scratchDir(label);
  const rootfs = path.join(dir, 'rootfs');
  const netd = path.join(dir, 'net.d');
  for (const d of [path.join(rootfs, 'bin'), path.join(rootfs, 'www'), path.join(rootfs, 'etc'), netd]) mkdirSync(d, { recursive: true });
  copyFileSync(busyboxPath(), path.join(rootfs, 'bin', 'busybox'));
  chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  for (const applet of applets) symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  writeFileSync(path.join(rootfs, 'www', 'index.html'), body);
  const conf = path.join(dir, 'containers.conf');
  writeFileSync(conf, containersConf(['network_backend = "cni"', `cni_plugin_dirs = ["${PLUGIN_DIR}"]`, `network_config_dir = "${netd}"`]));
  return { rootfs, conf, netd };
}

/** containers.conf for podman in a test: cgroupfs, events to a file, runc, these ulimits, and the [network] lines given. */
export function containersConf(network: string[], options: { ulimits?: string; engine?: string[] } = {}): string {
  const ulimits = options.ulimits ?? '"nofile=1024:1024", "nproc=4096:4096"';
  return ['[containers]', `default_ulimits = [${ulimits}]`, '[engine]', 'cgroup_manager = "cgroupfs"', 'events_logger = "file"', 'runtime = "runc"', ...(options.engine ?? []), '[network]', ...network, ''].join('\n');
}

/** jailnetd in a private host on its default socket (info log kept), killed at the end of the test. */
export async function privateDaemon(t: { teardown(fn: () => unknown): void }, host: PrivateHost): Promise<{ listening: boolean; log(): string; stop(): void }> {
  const env = { PATH: process.env.PATH };
  const daemon = host.spawn([process.execPath, JAILNET, '--log-level', 'info', 'daemon'], env);
  let log = '';
  daemon.stderr?.on('data', (d) => (log += d));
  t.teardown(() => daemon.kill('SIGKILL'));
  const listening = () => host.run(['test', '-S', DAEMON_SOCKET], env).code === 0;
  // Bounded: 20 s for a Node start on a loaded two-core machine.
  for (let i = 0; i < 200 && !listening(); i++) await sleep(100);
  return { listening: listening(), log: () => log, stop: () => daemon.kill('SIGTERM') };
}
