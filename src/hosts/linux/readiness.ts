// `jailnet status` on Linux: what the Linux driver itself needs — nftables, network
// namespaces, the bridge and veth drivers, the util-linux tools that build containers —
// each with the fix a Debian admin would run. FreeBSD's pf.conf and kldload advice has no
// place here.
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasTool, type ExecDoor } from '../exec.js';
import { readinessCheck as check, type ReadinessCheck } from '../host.js';
import type { LinuxHost } from './driver.js';

/**
 * Loaded, built in, or loadable on demand (the kernel loads bridge and veth when the
 * first one is created): /sys/module, then the kernel's own lists in /lib/modules.
 */
async function moduleAvailable(host: LinuxHost, module: string): Promise<boolean> {
  if (await host.isModuleLoaded(module)) return true;
  const dir = path.join('/lib/modules', os.release());
  const named = new RegExp(`(^|/)${module}\\.ko(\\.[a-z]+)?:?(\\s|$)`, 'm');
  for (const list of ['modules.builtin', 'modules.dep']) {
    const text = await fs.readFile(path.join(dir, list), 'utf8').catch(() => '');
    if (named.test(text)) return true;
  }
  return false;
}

export async function linuxReadiness(host: LinuxHost, door: ExecDoor): Promise<ReadinessCheck[]> {
  const checks: ReadinessCheck[] = [];
  const nft = hasTool(door, 'nft');
  checks.push(check('nftables usable (nft list tables)', nft && (await host.filter.available()), 'apt-get install nftables, and run as root'));
  checks.push(check('network namespaces (/proc/self/ns/net)', existsSync('/proc/self/ns/net'), 'a kernel with CONFIG_NET_NS'));
  for (const tool of ['ip', 'nsenter', 'unshare', 'setpriv']) {
    checks.push(check(`${tool} installed`, hasTool(door, tool), tool === 'ip' ? 'apt-get install iproute2' : 'apt-get install util-linux'));
  }
  for (const module of ['bridge', 'veth']) {
    checks.push(check(`${module} driver loaded or loadable`, await moduleAvailable(host, module), `modprobe ${module}`, [{ module }]));
  }
  return checks;
}
