// The portmap plugin: an attachment's published ports, handed to the host's packet
// filter as data (hosts/packet-filter.ts). The FreeBSD driver puts them in the
// attachment's own pf anchor, which podman's pf.conf.sample already hooks; the Linux
// driver in jailnet's nftables table. Records say which host ports are taken.
import { z } from 'zod';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import { MappingSchema, describeClash, hostPortClash, type PortMapping } from '../cni/port-mapping.js';
import type { Result } from '../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../cni/skel.js';
import { familyOf } from '../ipam/ip.js';
import { sortedForwards, type PortForward, type PortPublication, type PublicationOwner } from '../hosts/packet-filter.js';
import { rdrAnchor } from '../persistent-names.js';
import { JsonRecords } from '../util/json-records.js';
import { AttachmentBase, attachmentKey, baseRecord, recordsDir } from './attachment-record.js';
import { attachmentsDir, pluginHost } from './host-for-plugin.js';
import { containerAddresses, requirePrevResult, subnetsOf } from './passthrough.js';
import { whileUndoing } from '../util/deadline.js';
import { PortClaims } from './port-claims.js';


export { MappingSchema };

const PortPublicationSchema = z.object({
  owner: z.object({ containerId: z.string(), ifname: z.string() }),
  forwards: z.array(
    z.object({
      protocol: z.enum(['tcp', 'udp', 'sctp']),
      hostIP: z.string().optional(),
      hostPort: z.number(),
      podAddress: z.string(),
      podPort: z.number(),
    }),
  ),
  hairpin: z.object({ bridge: z.string(), subnets: z.array(z.string()) }).optional(),
});

/** Every portmap record, for the desired state of repair (repair/desired.ts). */
export async function portmapRecords(dir: string) {
  return new JsonRecords(recordsDir(dir, 'portmap'), PortmapRecordSchema).all();
}

export const PortmapConfSchema = z.looseObject({
  snat: z.boolean().default(true),
  markMasqBit: z.number().int().optional(),
  externalSetMarkChain: z.string().optional(),
  conditionsV4: z.array(z.string()).optional(),
  conditionsV6: z.array(z.string()).optional(),
  runtimeConfig: z.looseObject({ portMappings: z.array(MappingSchema).optional() }).optional(),
});


function loadConf(request: PluginRequest) {
  const conf = parseConfig(PortmapConfSchema, request.config);
  // These are iptables mechanisms; pf has no equivalent, so they are refused, not ignored.
  for (const field of ['markMasqBit', 'externalSetMarkChain', 'conditionsV4', 'conditionsV6'] as const) {
    if (conf[field] !== undefined) throw new CniError(ErrorCode.UnsupportedField, `unsupported field "${field}"`, 'it configures iptables, which FreeBSD does not use');
  }
  const mappings = conf.runtimeConfig?.portMappings ?? [];
  const clash = hostPortClash(mappings);
  if (clash) throw new CniError(ErrorCode.InvalidConfig, describeClash(clash));
  return { snat: conf.snat, mappings };
}

const ownerOf = (of: { containerId: string; ifname: string }): PublicationOwner => ({ containerId: of.containerId, ifname: of.ifname });

/** The container's addresses and subnets, from the previous plugin's result. */
function targetOf(result: Result, ifname: string): { bridge?: string; addresses: string[]; subnets: string[] } {
  const bridge = result.interfaces.find((i) => i.sandbox === undefined)?.name;
  return { bridge, addresses: containerAddresses(result, ifname), subnets: subnetsOf(result) };
}

/** Each mapping to each container address of its family (a mapping with a host IP only to that family). */
export function forwardsFor(mappings: PortMapping[], addresses: string[]): PortForward[] {
  return mappings.flatMap((m) =>
    addresses
      .filter((a) => !m.hostIP || familyOf(m.hostIP) === familyOf(a))
      .map((podAddress) => ({ protocol: m.protocol, hostPort: m.hostPort, podAddress, podPort: m.containerPort, ...(m.hostIP ? { hostIP: m.hostIP } : {}) })),
  );
}

/** The publication as data: with snat, source NAT on the bridge so localhost, the pod itself and its neighbours get replies. */
export function publicationFor(request: PluginRequest, mappings: PortMapping[], prev: Result, snat: boolean): PortPublication {
  const target = targetOf(prev, request.ifname);
  return {
    owner: ownerOf(request),
    forwards: forwardsFor(mappings, target.addresses),
    ...(snat && target.bridge ? { hairpin: { bridge: target.bridge, subnets: target.subnets } } : {}),
  };
}

const PortmapRecordSchema = AttachmentBase.extend({
  /** The pf anchor name, written by earlier versions; the owner is containerId and ifname. */
  anchor: z.string().optional(),
  mappings: z.array(MappingSchema),
  /** The container's addresses, whose states DEL kills even without prevResult. */
  addresses: z.array(z.string()),
  /** What the host was given: what `jailnet repair` puts back (absent in records of earlier versions). */
  publication: PortPublicationSchema.optional(),
  /** The mappings a sibling (the container on another network) publishes instead (claimedElsewhere). */
  shared: z.array(MappingSchema).optional(),
  /** The siblings that found a port of this record's and share it: those a DEL hands ports to (handOver). */
  sharedWith: z.array(z.string()).optional(),
});

type PortmapRecord = z.infer<typeof PortmapRecordSchema>;

interface PortmapStore {
  records: JsonRecords<PortmapRecord>;
  claims: PortClaims;
}

async function portmapStore(): Promise<PortmapStore> {
  const records = new JsonRecords(recordsDir(await attachmentsDir(), 'portmap'), PortmapRecordSchema);
  return { records, claims: new PortClaims(records.dir, records) };
}

/** The attachment's claims and record given up, in that order: a record left by a crash is what a DEL again finds. */
async function forget(store: PortmapStore, id: string, record: PortmapRecord): Promise<void> {
  await store.claims.release(record.mappings, id);
  await store.records.remove(id);
}

/**
 * The mappings another attachment's claim takes, split: those of a sibling (the same
 * container on another network, which publishes the port already: the first one wins, as
 * with its default route, and the port follows the container to the sibling when that one
 * goes) and the first clash with any other attachment. Under the records' lock.
 */
async function claimedElsewhere(store: PortmapStore, mappings: PortMapping[], id: string, containerId: string) {
  const shared: PortMapping[] = [];
  const owners = new Set<string>();
  let rest = mappings;
  for (let clash = await store.claims.clashOf(rest, id); clash; clash = await store.claims.clashOf(rest, id)) {
    const owner = await store.records.read(clash.owner);
    if (owner?.containerId !== containerId) return { shared, owners, clash: { ...clash, owner } };
    shared.push(clash.mapping);
    owners.add(clash.owner);
    rest = rest.filter((m) => m !== clash?.mapping);
  }
  return { shared, owners, clash: undefined };
}

/** Each owner of a port `id` shares learns it, so that its DEL hands the port over without looking for siblings. */
async function noteSharing(store: PortmapStore, owners: Set<string>, id: string): Promise<void> {
  for (const ownerId of owners) {
    const owner = await store.records.read(ownerId);
    if (!owner || owner.sharedWith?.includes(id)) continue;
    await store.records.write(ownerId, { ...owner, sharedWith: [...(owner.sharedWith ?? []), id] });
  }
}

/** What a record publishes of `mappings`: forwards to its addresses, with the hairpin it had. */
function publicationOfRecord(record: PortmapRecord, mappings: PortMapping[]): PortPublication {
  const hairpin = record.publication?.hairpin;
  return { owner: ownerOf(record), forwards: forwardsFor(mappings, record.addresses), ...(hairpin ? { hairpin } : {}) };
}

/**
 * Checks the ports and claims them in one critical section, so two ADDs never both take a
 * port: the claims first, then the record (see port-claims.ts for a crash between them).
 * A host port another attachment publishes is refused, unless both name host addresses,
 * different ones, or the other is a sibling (claimedElsewhere). Returns what to publish.
 */
async function claimPorts(request: PluginRequest, mappings: PortMapping[], wanted: PortPublication) {
  const store = await portmapStore();
  const id = attachmentKey(request.config.name as string, request.containerId, request.ifname);
  const addresses = [...new Set(wanted.forwards.map((f) => f.podAddress))];
  const record: PortmapRecord = { ...baseRecord(request), mappings, addresses, publication: wanted };
  await store.records.locked(async () => {
    const { shared, owners, clash } = await claimedElsewhere(store, mappings, id, request.containerId);
    if (clash) {
      const by = clash.owner ? rdrAnchor(ownerOf(clash.owner)) : clash.mapping.hostPort;
      throw new CniError(ErrorCode.PortInUse, `host port ${clash.mapping.hostPort}/${clash.mapping.protocol} is already published`, `by ${by}`);
    }
    const own = mappings.filter((m) => !shared.includes(m));
    record.publication = publicationOfRecord(record, own);
    if (shared.length > 0) record.shared = shared;
    await store.claims.claim(own, id);
    await store.records.write(id, record);
    await noteSharing(store, owners, id);
  });
  return { publication: record.publication as PortPublication, release: () => forget(store, id, record) };
}

/**
 * After an attachment gave its ports up: each sibling that shared one of them (the same
 * container on another network) publishes it now, so the port still reaches the container.
 * Only the siblings the record names are read. Under the records' lock, with the record as
 * it was read there: a sibling's ADD notes its sharing under the same lock.
 */
async function handOver(store: PortmapStore, gone: PortmapRecord): Promise<void> {
  for (const id of gone.sharedWith ?? []) {
    const sibling = await store.records.read(id);
    if (!sibling?.shared?.length) continue;
    const { shared, owners } = await claimedElsewhere(store, sibling.mappings, id, sibling.containerId);
    // What it still shares may have a new owner (another sibling, just now), which must know it.
    await noteSharing(store, owners, id);
    if (shared.length === sibling.shared.length) continue;
    const own = sibling.mappings.filter((m) => !shared.includes(m));
    const publication = publicationOfRecord(sibling, own);
    await store.claims.claim(own, id);
    await pluginHost().filter.publishPorts(publication);
    const { shared: _before, ...rest } = sibling;
    await store.records.write(id, { ...rest, publication, ...(shared.length > 0 ? { shared } : {}) });
  }
}

async function add(request: PluginRequest): Promise<Result> {
  const prev = requirePrevResult(request, 'portmap');
  const { snat, mappings } = loadConf(request);
  if (mappings.length === 0) return prev;
  const wanted = publicationFor(request, mappings, prev, snat);
  if (wanted.forwards.length === 0) throw new CniError(ErrorCode.InvalidConfig, `prevResult has no address for ${request.ifname}`);
  // Recorded before the host holds it: DEL and gc find the publication from the record.
  const { publication, release } = await claimPorts(request, mappings, wanted);
  if (publication.forwards.length === 0) return prev;
  let warnings: string[];
  try {
    warnings = await pluginHost().filter.publishPorts(publication);
  } catch (error) {
    // Both drivers apply a publication in one transaction: a failed one left nothing but the record.
    await whileUndoing(release);
    throw error;
  }
  for (const warning of warnings) process.stderr.write(`jailnet portmap: ${warning}\n`);
  return prev;
}

/** The attachment's publication taken from the host, its claims and record given up, its ports handed to a sibling. */
async function withdraw(store: PortmapStore, record: PortmapRecord, alsoFlowsTo: string[] = []): Promise<void> {
  await pluginHost().filter.unpublishPorts(ownerOf(record), [...new Set([...record.addresses, ...alsoFlowsTo])]);
  const id = attachmentKey(record.network, record.containerId, record.ifname);
  await store.records.locked(async () => {
    // Read again: a sibling may have noted its sharing since the caller read it.
    const current = (await store.records.read(id)) ?? record;
    await forget(store, id, current);
    await handOver(store, current);
  });
}

async function del(request: PluginRequest): Promise<void> {
  loadConf(request);
  const store = await portmapStore();
  const record = await store.records.read(attachmentKey(request.config.name as string, request.containerId, request.ifname));
  // No record: this attachment never published a port (the record comes before the host's rules).
  if (!record) return;
  await withdraw(store, record, request.prevResult ? containerAddresses(request.prevResult, request.ifname) : []);
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
  loadConf(request);
  const network = request.config.name as string;
  const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`));
  const store = await portmapStore();
  for (const record of (await store.records.all()).filter((r) => r.network === network && !keep.has(`${r.containerId}\n${r.ifname}`))) {
    await withdraw(store, record);
  }
}

/** A forward the host holds for it: same ports and pod address, and the same host address where one was asked for. */
function held(wanted: PortForward, published: PortForward[]): boolean {
  return published.some(
    (p) => p.protocol === wanted.protocol && p.hostPort === wanted.hostPort && p.podAddress === wanted.podAddress && p.podPort === wanted.podPort && (!wanted.hostIP || p.hostIP === wanted.hostIP),
  );
}

async function check(request: PluginRequest): Promise<void> {
  const prev = requirePrevResult(request, 'portmap');
  const { mappings } = loadConf(request);
  const store = await portmapStore();
  // What this attachment publishes (a sibling may publish some of its ports: claimedElsewhere).
  const record = await store.records.read(attachmentKey(request.config.name as string, request.containerId, request.ifname));
  const wanted = record?.publication?.forwards ?? forwardsFor(mappings, containerAddresses(prev, request.ifname));
  const published = await pluginHost().filter.publishedPorts(ownerOf(request));
  for (const f of sortedForwards(wanted)) {
    if (!held(f, published)) throw new CniError(ErrorCode.CheckFailed, `no rule publishes ${f.hostPort}/${f.protocol} to ${f.podAddress}:${f.podPort}`);
  }
}

const nothing = async (): Promise<void> => undefined;

export const portmap: Plugin = { add, del, check, gc, status: nothing };
