// A private host for real podman: a mount and network namespace of its own (unshare, held by
// a sleeping process), where podman's and jailnet's directories are fresh tmpfs mounts
// (/run/containers, /run/netns, /var/lib/containers, jailnet's state and run directories)
// and /etc/containers holds the test's containers.conf beside Debian's files. Everything
// podman starts (conmon, its cleanup process, netavark, aardvark-dns) is a descendant and
// sees the same; nothing reaches the machine's own network or directories. Stopped by kill
// of every process in the namespace, which takes the mounts with it.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const PRIVATE_DIRS = ['/run/containers', '/run/netns', '/var/lib/containers', '/var/lib/jailnet', '/run/jailnet', '/var/tmp/jailnet-private'];
/** The holder ends by itself after this long, should a test die without stopping it. */
const HOLD_SECONDS = 1_200;

export interface PrivateHost {
  pid: number;
  /** Runs argv inside the namespaces, with `env` as the whole environment. */
  run(argv: string[], env?: Record<string, string | undefined>, timeoutMs?: number): { code: number; stdout: string; stderr: string };
  stop(): Promise<void>;
}

function netnsOf(pid: number | string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

export async function privateHost(containersConf: string): Promise<PrivateHost> {
  const holder = spawn('unshare', ['--mount', '--net', '--propagation', 'private', 'sleep', String(HOLD_SECONDS)], { stdio: 'ignore' });
  const pid = holder.pid;
  if (pid === undefined) throw new Error('unshare did not start');
  const own = netnsOf(process.pid);
  for (let i = 0; i < 100 && netnsOf(pid) === own; i++) await sleep(10);
  const enter = ['nsenter', '-t', String(pid), '--mount', '--net', '--'];
  const run: PrivateHost['run'] = (argv, env = { PATH: process.env.PATH }, timeoutMs = 120_000) => {
    const assignments = Object.entries(env).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    const r = spawnSync(enter[0] as string, [...enter.slice(1), '/usr/bin/env', '-i', ...assignments, ...argv], { encoding: 'utf8', timeout: timeoutMs });
    return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
  };
  const setup = [
    ...PRIVATE_DIRS.flatMap((dir) => [['mkdir', '-p', dir], ['mount', '-t', 'tmpfs', 'tmpfs', dir]]),
    // /etc/containers: Debian's files, and containers.conf, on a tmpfs over it.
    ['cp', '-a', '/etc/containers/.', '/var/tmp/jailnet-private/'],
    ['cp', containersConf, '/var/tmp/jailnet-private/containers.conf'],
    ['mount', '--bind', '/var/tmp/jailnet-private', '/etc/containers'],
    ['ip', 'link', 'set', 'lo', 'up'],
  ];
  for (const argv of setup) {
    const r = run(argv);
    if (r.code !== 0) {
      holder.kill('SIGKILL');
      throw new Error(`private host: ${argv.join(' ')}: ${r.stderr}`);
    }
  }
  return {
    pid,
    run,
    async stop() {
      const ns = netnsOf(pid);
      for (let round = 0; round < 3 && ns; round++) {
        for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
          if (Number(entry) !== process.pid && netnsOf(entry) === ns) {
            try {
              process.kill(Number(entry), 'SIGKILL');
            } catch {
              // gone already
            }
          }
        }
        await sleep(100);
      }
    },
  };
}
