// netavark's DNS part on the one DNS module (src/dns/aardvark.ts): after a setup, each
// DNS-enabled network's file gets the container's line and aardvark-dns is reloaded once
// (started when none runs); a teardown takes the lines away and reloads; `update` rewrites a
// network's servers. Without an aardvark binary (podman passes an empty path when it found
// none, as on FreeBSD today) nothing is served and nothing is advertised.
import { existsSync } from 'node:fs';
import type { ExecDoor } from '../hosts/exec.js';
import { aardvarkDir, aardvarkVersion, dropEntries, editFiles, networkFile, reloadAardvark, withEntry, withServers, type AardvarkSite } from '../dns/aardvark.js';
import type { NetworkAttachment } from './plan.js';
import { NetavarkError } from './wire.js';

export interface DnsContext {
  door: ExecDoor;
  /** `<--config>/aardvark-dns`. */
  dir: string;
  /** The aardvark binary podman gave, when it exists. */
  binary?: string;
  port: number;
}

export function dnsContext(door: ExecDoor, configDir: string, binary: string | undefined, port: number): DnsContext {
  return { door, dir: aardvarkDir(configDir), ...(binary && existsSync(binary) ? { binary } : {}), port };
}

const site = (ctx: DnsContext): AardvarkSite => ({ dir: ctx.dir, binary: ctx.binary ?? '', port: ctx.port });

/** Both names a network's file may have: aardvark's version decides whether an internal one gets `%int`. */
const fileNames = (network: string) => [network, `${network}%int`];

/**
 * The container's names on each DNS network, then one reload. Returns the networks now
 * served (their gateways are the container's nameservers); none without a binary.
 */
export async function addNames(ctx: DnsContext, attachments: NetworkAttachment[]): Promise<Set<string>> {
  const named = attachments.filter((a) => a.dns);
  if (named.length === 0 || !ctx.binary) return new Set();
  // netavark adds a DNAT from 53 to another port; jailnet does not yet, so a container would ask a port nothing serves.
  if (ctx.port !== 53) throw new NetavarkError(`NETAVARK_DNS_PORT ${ctx.port}: jailnet serves names on port 53 only`);
  const version = await aardvarkVersion(ctx.door, ctx.binary);
  const byFile = new Map(named.map((a) => [networkFile(a.dns!.network, version), a.dns!]));
  await editFiles(ctx.dir, [...byFile.keys()], (file, text) => withEntry(text, byFile.get(file)!.network, byFile.get(file)!.entry));
  await reloadAardvark(ctx.door, site(ctx), true);
  return new Set(named.map((a) => a.network));
}

/** The container's lines taken from its networks' files, then one reload if anything changed (never a start). */
export async function removeNames(ctx: DnsContext, containerId: string, attachments: NetworkAttachment[]): Promise<void> {
  const id = containerId.toLowerCase();
  await dropEntries(ctx.door, ctx.dir, attachments.flatMap((a) => fileNames(a.network)), (entry) => entry !== id, site(ctx));
}

/** `update NET --network-dns-servers a,b`: the network's file, when there is one, gets these servers. */
export async function updateServers(ctx: DnsContext, network: string, servers: string[]): Promise<void> {
  if (!existsSync(ctx.dir)) return;
  const changed = await editFiles(ctx.dir, fileNames(network), (_file, text) => (text === undefined ? undefined : withServers(text, servers)));
  if (changed) await reloadAardvark(ctx.door, site(ctx), false);
}
