// Paths that differ between FreeBSD (the product's home) and Linux (where CI runs it for real).
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type HostKind = 'freebsd' | 'linux';

export function hostKind(platform: NodeJS.Platform = process.platform): HostKind {
  return platform === 'freebsd' ? 'freebsd' : 'linux';
}

export function defaultStateDir(kind: HostKind = hostKind()): string {
  return kind === 'freebsd' ? '/var/db/jailnet' : '/var/lib/jailnet';
}

export function defaultIpamDataDir(kind: HostKind = hostKind()): string {
  return kind === 'freebsd' ? '/var/db/jailnet/networks' : '/var/lib/cni/networks';
}

export function defaultCniConfigDir(kind: HostKind = hostKind()): string {
  return kind === 'freebsd' ? '/usr/local/etc/cni/net.d' : '/etc/cni/net.d';
}

export function defaultConfigFile(kind: HostKind = hostKind()): string {
  return kind === 'freebsd' ? '/usr/local/etc/jailnet/jailnet.conf' : '/etc/jailnet/jailnet.conf';
}

/**
 * Whether a plugin or netavark call that finds no jailnetd starts one ([daemon] autostart):
 * on FreeBSD, yes (a host where nobody enabled jailnetd would otherwise pay a Node start per
 * call); on Linux, where jailnet runs for tests and podman has its own netavark, no.
 */
export function defaultDaemonAutostart(kind: HostKind = hostKind()): boolean {
  return kind === 'freebsd';
}

/** The directory of jailnet's own plugin launchers (libexec/cni in the package). */
export function bundledPluginDir(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'libexec', 'cni');
}

/**
 * Where the dnsname plugin looks for aardvark-dns, the first that exists: FreeBSD's port
 * (dns/aardvark-dns), podman's helper directory on other systems, Debian's package. With
 * JAILNET_TOOL_PATH (the host's tools somewhere else: the simulator's), only there, so a
 * simulated host never starts this machine's own aardvark-dns.
 */
export function aardvarkBinaries(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.JAILNET_TOOL_PATH) return env.JAILNET_TOOL_PATH.split(':').filter(Boolean).map((dir) => path.join(dir, 'aardvark-dns'));
  return ['/usr/local/libexec/podman/aardvark-dns', '/usr/libexec/podman/aardvark-dns', '/usr/lib/podman/aardvark-dns'];
}
