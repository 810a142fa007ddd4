// The portmap plugin on FreeBSD: published ports become pf rdr rules in the
// per-attachment anchor cni-rdr/<id>, which podman's pf.conf.sample already hooks
// with `rdr-anchor "cni-rdr/*"` and `nat-anchor "cni-rdr/*"`.
import { z } from 'zod';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import type { Result } from '../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../cni/skel.js';
import type { Host } from '../hosts/host.js';
import { parseIP } from '../ipam/ip.js';
import { JsonRecords } from '../util/json-records.js';
import { AttachmentBase, attachmentKey, baseRecord, recordsDir } from './attachment-record.js';
import { attachmentsDir, pluginHost } from './host-for-plugin.js';
import { containerAddresses, requirePrevResult, subnetsOf } from './passthrough.js';
import { whileUndoing } from '../util/deadline.js';

export const RDR_PARENT = 'cni-rdr';

export const MappingSchema = z.object({
  hostPort: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp', 'sctp']).default('tcp'),
  hostIP: z
    .string()
    .optional()
    .refine((ip) => !ip || parseIP(ip) !== null, { message: 'hostIP must be an IP address' }),
});

export const PortmapConfSchema = z.looseObject({
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

const PortmapRecordSchema = AttachmentBase.extend({
  anchor: z.string(),
  mappings: z.array(MappingSchema),
  /** The container's addresses, whose states DEL kills even without prevResult. */
  addresses: z.array(z.string()),
});

type PortmapRecord = z.infer<typeof PortmapRecordSchema>;

async function portmapRecords(): Promise<JsonRecords<PortmapRecord>> {
  return new JsonRecords(recordsDir(await attachmentsDir(), 'portmap'), PortmapRecordSchema);
}

/** Two publications clash on one protocol and host port unless they name different host addresses. */
function clashes(a: PortMapping, b: PortMapping): boolean {
  return a.protocol === b.protocol && a.hostPort === b.hostPort && (!a.hostIP || !b.hostIP || a.hostIP === b.hostIP);
}

/** A host port another attachment already publishes is refused; jailnet's records say which are taken. */
function assertPortsFree(records: PortmapRecord[], mappings: PortMapping[], ownAnchor: string): void {
  for (const record of records.filter((r) => r.anchor !== ownAnchor)) {
    const clash = mappings.find((m) => record.mappings.some((taken) => clashes(m, taken)));
    if (clash) throw new CniError(ErrorCode.PortInUse, `host port ${clash.hostPort}/${clash.protocol} is already published`, `by pf anchor ${record.anchor}`);
  }
}

/** Checks the ports and records the publication in one critical section, so two ADDs never both take a port. */
async function claimPorts(request: PluginRequest, mappings: PortMapping[], anchor: string, addresses: string[]): Promise<() => Promise<void>> {
  const store = await portmapRecords();
  const id = attachmentKey(request.config.name as string, request.containerId, request.ifname);
  await store.locked(async () => {
    assertPortsFree(await store.all(), mappings, anchor);
    await store.write(id, { ...baseRecord(request), anchor, mappings, addresses });
  });
  return () => store.remove(id);
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
  // Recorded before the anchor is loaded: DEL and gc find it from the record.
  const release = await claimPorts(request, mappings, anchor, target.addresses);
  try {
    await host.loadAnchor(anchor, portmapRules(mappings, target, snat));
  } catch (error) {
    // pfctl loads an anchor in one transaction: a failed load left nothing but the record.
    await whileUndoing(release);
    throw error;
  }
  await warnWithoutFilterLocal(host);
  return prev;
}

/** Flushes the attachment's anchor and kills the states of its flows. */
async function unpublish(host: Host, anchor: string, addresses: string[]): Promise<void> {
  if ((await host.showAnchor(anchor, 'nat')).length > 0) await host.flushAnchor(anchor, 'nat');
  // Established flows to the container would otherwise keep going until they time out.
  for (const address of addresses) await host.killStates(address.includes(':') ? '::/0' : '0.0.0.0/0', address);
}

async function del(request: PluginRequest): Promise<void> {
  loadConf(request);
  const store = await portmapRecords();
  const id = attachmentKey(request.config.name as string, request.containerId, request.ifname);
  const record = await store.read(id);
  // No record: this attachment never published a port (the record comes before the anchor).
  if (!record) return;
  const fromResult = request.prevResult ? containerAddresses(request.prevResult, request.ifname) : [];
  await unpublish(pluginHost(), record.anchor, [...new Set([...record.addresses, ...fromResult])]);
  await store.remove(id);
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
  loadConf(request);
  const network = request.config.name as string;
  const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`));
  const store = await portmapRecords();
  for (const record of (await store.all()).filter((r) => r.network === network && !keep.has(`${r.containerId}\n${r.ifname}`))) {
    await unpublish(pluginHost(), record.anchor, record.addresses);
    await store.remove(attachmentKey(network, record.containerId, record.ifname));
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

export const portmap: Plugin = { add, del, check, gc, status: nothing };
