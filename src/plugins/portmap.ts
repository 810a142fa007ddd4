// The portmap plugin on FreeBSD: published ports become pf rdr rules in the
// per-attachment anchor cni-rdr/<id>, which podman's pf.conf.sample already hooks
// with `rdr-anchor "cni-rdr/*"` and `nat-anchor "cni-rdr/*"`.
import { z } from 'zod';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import type { Result } from '../cni/result.js';
import type { Plugin, PluginRequest } from '../cni/skel.js';
import type { Host } from '../hosts/host.js';
import { parseIP } from '../ipam/ip.js';
import { pluginHost } from './host-for-plugin.js';
import { containerAddresses, requirePrevResult, subnetsOf } from './passthrough.js';

export const RDR_PARENT = 'cni-rdr';

const MappingSchema = z.object({
  hostPort: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp', 'sctp']).default('tcp'),
  hostIP: z
    .string()
    .optional()
    .refine((ip) => !ip || parseIP(ip) !== null, { message: 'hostIP must be an IP address' }),
});

const PortmapConfSchema = z.looseObject({
  snat: z.boolean().default(true),
  markMasqBit: z.number().int().optional(),
  externalSetMarkChain: z.string().optional(),
  conditionsV4: z.array(z.string()).optional(),
  conditionsV6: z.array(z.string()).optional(),
  runtimeConfig: z.looseObject({ portMappings: z.array(MappingSchema).optional() }).optional(),
});

export type PortMapping = z.infer<typeof MappingSchema>;

function loadConf(request: PluginRequest) {
  const conf = parseConfig(PortmapConfSchema, request.config);
  // These are iptables mechanisms; pf has no equivalent, so they are refused, not ignored.
  for (const field of ['markMasqBit', 'externalSetMarkChain', 'conditionsV4', 'conditionsV6'] as const) {
    if (conf[field] !== undefined) throw new CniError(ErrorCode.UnsupportedField, `unsupported field "${field}"`, 'it configures iptables, which FreeBSD does not use');
  }
  return { snat: conf.snat, mappings: conf.runtimeConfig?.portMappings ?? [] };
}

/** One anchor per attachment (container ID cut to 32 characters, as podman's plugins do, plus the ifname). */
export function anchorFor(containerId: string, ifname: string): string {
  return `${RDR_PARENT}/${containerId.slice(0, 32)}-${ifname}`;
}

interface Target {
  bridge?: string;
  addresses: string[];
  /** The container's subnets, for hairpin and pod-to-pod NAT. */
  subnets: string[];
}

function targetOf(result: Result, ifname: string): Target {
  const bridge = result.interfaces.find((i) => i.sandbox === undefined)?.name;
  const addresses = containerAddresses(result, ifname);
  return { bridge, addresses, subnets: subnetsOf(result) };
}

const family = (address: string) => (address.includes(':') ? 'inet6' : 'inet');

/** The anchor's rules: rdr for each mapping and family, and source NAT so that localhost, the pod itself and other pods get replies. */
export function portmapRules(mappings: PortMapping[], target: Target, snat: boolean): string {
  const lines: string[] = [];
  for (const m of mappings) {
    for (const address of target.addresses) {
      const af = family(address);
      if (m.hostIP && family(m.hostIP) !== af) continue;
      if (snat && target.bridge) {
        lines.push(`nat on ${target.bridge} ${af} proto ${m.protocol} from (lo0) to ${address} port ${m.containerPort} -> (${target.bridge})`);
        for (const subnet of target.subnets.filter((s) => family(s) === af)) {
          lines.push(`nat on ${target.bridge} ${af} proto ${m.protocol} from ${subnet} to ${address} port ${m.containerPort} -> (${target.bridge})`);
        }
      }
    }
  }
  for (const m of mappings) {
    for (const address of target.addresses) {
      const af = family(address);
      if (m.hostIP && family(m.hostIP) !== af) continue;
      lines.push(`rdr pass ${af} proto ${m.protocol} from any to ${m.hostIP ?? 'self'} port ${m.hostPort} -> ${address} port ${m.containerPort}`);
    }
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** An rdr rule as pfctl prints it (`self` has become one rule per local address). */
const RDR_LINE = /^rdr pass (inet6?) proto (\S+) from any to (\S+) port = (\d+) -> (\S+) port (\d+)/;

/** A host port another attachment already publishes (on an overlapping address) is refused. */
async function assertPortsFree(host: Host, mappings: PortMapping[], ownAnchor: string): Promise<void> {
  for (const anchor of await host.listAnchors(RDR_PARENT)) {
    if (anchor === ownAnchor) continue;
    for (const line of await host.showAnchor(anchor, 'nat')) {
      const match = RDR_LINE.exec(line);
      if (!match) continue;
      const [, , proto, to, port] = match;
      const clash = mappings.find((m) => m.protocol === proto && String(m.hostPort) === port && (!m.hostIP || m.hostIP === to));
      if (clash) {
        throw new CniError(ErrorCode.PortInUse, `host port ${clash.hostPort}/${clash.protocol} is already published`, `by pf anchor ${anchor}`);
      }
    }
  }
}

async function warnWithoutFilterLocal(host: Host): Promise<void> {
  const value = await host.sysctlGet('net.pf.filter_local').catch(() => '0');
  if (value !== '1') {
    process.stderr.write(
      'jailnet portmap: net.pf.filter_local is not 1, so connections from this host to its own addresses skip the published ports; run: sysctl net.pf.filter_local=1\n',
    );
  }
}

async function add(request: PluginRequest): Promise<Result> {
  const prev = requirePrevResult(request, 'portmap');
  const { snat, mappings } = loadConf(request);
  if (mappings.length === 0) return prev;
  const target = targetOf(prev, request.ifname);
  if (target.addresses.length === 0) throw new CniError(ErrorCode.InvalidConfig, `prevResult has no address for ${request.ifname}`);
  const host = pluginHost();
  const anchor = anchorFor(request.containerId, request.ifname);
  await assertPortsFree(host, mappings, anchor);
  await host.loadAnchor(anchor, portmapRules(mappings, target, snat));
  await warnWithoutFilterLocal(host);
  return prev;
}

async function del(request: PluginRequest): Promise<void> {
  const host = pluginHost();
  const anchor = anchorFor(request.containerId, request.ifname);
  if ((await host.showAnchor(anchor, 'nat')).length > 0) await host.flushAnchor(anchor, 'nat');
  // Established flows to the container would otherwise keep going until they time out.
  for (const address of request.prevResult ? containerAddresses(request.prevResult, request.ifname) : []) {
    await host.killStates(address.includes(':') ? '::/0' : '0.0.0.0/0', address);
  }
}

async function check(request: PluginRequest): Promise<void> {
  const prev = requirePrevResult(request, 'portmap');
  const { mappings } = loadConf(request);
  const target = targetOf(prev, request.ifname);
  const loaded = (await pluginHost().showAnchor(anchorFor(request.containerId, request.ifname), 'nat'))
    .map((line) => RDR_LINE.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([, , proto, to, port, dest, destPort]) => ({ proto, to, port: Number(port), dest, destPort: Number(destPort) }));
  for (const m of mappings) {
    for (const address of target.addresses.filter((a) => !m.hostIP || family(a) === family(m.hostIP))) {
      const found = loaded.some(
        (r) => r.proto === m.protocol && r.port === m.hostPort && r.dest === address && r.destPort === m.containerPort && (!m.hostIP || r.to === m.hostIP),
      );
      if (!found) throw new CniError(ErrorCode.CheckFailed, `no rdr rule publishes ${m.hostPort}/${m.protocol} to ${address}:${m.containerPort}`);
    }
  }
}

const nothing = async (): Promise<void> => undefined;

export const portmap: Plugin = { add, del, check, gc: nothing, status: nothing };
