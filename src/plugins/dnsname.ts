// The dnsname plugin: container names for podman's CNI backend, configured as
// containers/dnsname is (`domainName`, the `aliases` capability), served by aardvark-dns
// through the one DNS module (src/dns/aardvark.ts) instead of a dnsmasq per network: so a
// container on two networks resolves the names of both (aardvark answers by the asker's
// networks). podman 4/5 writes this plugin into a new network, and says `dns_enabled`,
// only where it finds a plugin of this name (libnetwork/cni/cni_conversion.go). ADD puts the
// container's line (its name from K8S_POD_NAME, its aliases, its short ID) in the network's
// file and reloads aardvark once, starting it where none runs; DEL takes the line away.
// The files live in jailnet's run directory, which goes at reboot with the containers.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { pickCniArgs } from '../cni/args.js';
import { CniError, ErrorCode, type ErrorCodeValue } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import type { Result } from '../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../cni/skel.js';
import { DNS_SEARCH_DOMAIN, DnsError, dropEntries, editFiles, entryIds, reloadAardvark, withEntry, withoutEntry, type AardvarkSite, type DnsEntry, type NetworkDns } from '../dns/aardvark.js';
import { createExecDoor } from '../hosts/exec.js';
import { familyOf } from '../ipam/ip.js';
import { isDnsLabel, validateNetworkName } from '../names.js';
import { cniAardvarkDir } from '../persistent-names.js';
import { aardvarkBinaries } from '../platform.js';
import { callEnv } from '../util/call-env.js';
import { containerAddresses, requirePrevResult } from './passthrough.js';

export const DnsnameConfSchema = z.looseObject({
  domainName: z.string().optional(),
  runtimeConfig: z.looseObject({ aliases: z.record(z.string(), z.array(z.string())).optional() }).optional(),
});

function checkLabel(name: string, what: string, code: ErrorCodeValue): string {
  if (!isDnsLabel(name)) throw new CniError(code, `invalid ${what} ${JSON.stringify(name.slice(0, 70))}`, 'a DNS label: letters, digits, "_" and "-", at most 63 characters, no dot');
  return name.toLowerCase();
}

function loadConf(request: PluginRequest) {
  const conf = parseConfig(DnsnameConfSchema, request.config);
  const network = request.config.name as string;
  try {
    validateNetworkName(network);
  } catch (error) {
    throw new CniError(ErrorCode.InvalidConfig, (error as Error).message);
  }
  const domain = conf.domainName ?? DNS_SEARCH_DOMAIN;
  // aardvark-dns strips this one search domain from a question; under any other a name would never resolve.
  if (domain !== DNS_SEARCH_DOMAIN) throw new CniError(ErrorCode.InvalidConfig, `unsupported domainName ${JSON.stringify(domain.slice(0, 70))}`, `aardvark-dns answers under ${DNS_SEARCH_DOMAIN} only`);
  const aliases = (conf.runtimeConfig?.aliases?.[network] ?? []).map((a) => checkLabel(a, 'alias', ErrorCode.InvalidConfig));
  const { K8S_POD_NAME: name } = pickCniArgs(request.args, ['K8S_POD_NAME', 'K8S_POD_NAMESPACE', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID', 'IP', 'MAC']);
  return { network, domain, aliases, name };
}

/** The container's names: its name (K8S_POD_NAME, as podman passes it), its aliases, its short ID; each once. */
function namesOf(request: PluginRequest, name: string | undefined, aliases: string[]): string[] {
  const own = name ? [checkLabel(name, 'container name (K8S_POD_NAME)', ErrorCode.InvalidEnvironment)] : [];
  return [...new Set([...own, ...aliases, checkLabel(request.containerId.slice(0, 12), 'container ID', ErrorCode.InvalidEnvironment)])];
}

/** Where the plugin keeps aardvark's files, and the binary it runs (the first that exists), if any. */
function site(): AardvarkSite | undefined {
  const binary = aardvarkBinaries(callEnv()).find((b) => existsSync(b));
  return binary ? { dir: cniAardvarkDir(callEnv()), binary, port: 53 } : undefined;
}

const door = () => createExecDoor({ env: callEnv() });

/** The container's gateways on this network: where aardvark listens and what the container is told to ask. */
function gatewaysOf(result: Result): string[] {
  return [...new Set(result.ips.map((ip) => ip.gateway).filter((g): g is string => g !== undefined))];
}

async function add(request: PluginRequest): Promise<Result> {
  const prev = requirePrevResult(request, 'dnsname');
  const { network, domain, aliases, name } = loadConf(request);
  const names = namesOf(request, name, aliases);
  const where = site();
  const listen = gatewaysOf(prev);
  if (!where || listen.length === 0) {
    // No resolver to run, or nowhere for it to listen (no gateway): nothing advertised that would not answer.
    process.stderr.write(`jailnet dnsname: ${!where ? `no aardvark-dns found (${aardvarkBinaries(callEnv()).join(', ')})` : `network ${network} has no gateway`}: names are not served\n`);
    return prev;
  }
  const addresses = containerAddresses(prev, request.ifname);
  const entry: DnsEntry = { containerId: request.containerId.toLowerCase(), ipv4: addresses.filter((a) => familyOf(a) === 4), ipv6: addresses.filter((a) => familyOf(a) === 6), names, servers: [] };
  const dns: NetworkDns = { network, internal: false, listen, servers: [] };
  await editFiles(where.dir, [network], (_file, text) => withEntry(text, dns, entry));
  try {
    await reloadAardvark(door(), where, true);
  } catch (error) {
    await editFiles(where.dir, [network], (_file, text) => (text === undefined ? undefined : withoutEntry(text, entry.containerId)));
    throw new CniError(ErrorCode.Internal, 'cannot serve container names', error instanceof DnsError ? error.message : String(error));
  }
  return { ...prev, dns: { ...prev.dns, nameservers: [...new Set([...(prev.dns.nameservers ?? []), ...listen])], search: [...new Set([domain, ...(prev.dns.search ?? [])])] } };
}

/** The lines of containers `keep` refuses taken from the network's file, then one reload if any went. */
async function removeLines(network: string, keep: (containerId: string) => boolean): Promise<void> {
  const where = site();
  await dropEntries(door(), where?.dir ?? cniAardvarkDir(callEnv()), [network], keep, where);
}

async function del(request: PluginRequest): Promise<void> {
  const { network } = loadConf(request);
  const id = request.containerId.toLowerCase();
  await removeLines(network, (containerId) => containerId !== id);
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
  const { network } = loadConf(request);
  const live = new Set(valid.map((a) => a.containerID.toLowerCase()));
  await removeLines(network, (containerId) => live.has(containerId));
}

async function check(request: PluginRequest): Promise<void> {
  requirePrevResult(request, 'dnsname');
  const { network } = loadConf(request);
  const where = site();
  if (!where) return;
  const text = await fs.readFile(path.join(where.dir, network), 'utf8').catch(() => '');
  if (!entryIds(text).includes(request.containerId.toLowerCase())) {
    throw new CniError(ErrorCode.CheckFailed, `container ${request.containerId.slice(0, 12)} has no name on network ${network}`);
  }
}

const status = async (): Promise<void> => undefined;

export const dnsname: Plugin = { add, del, check, gc, status };
