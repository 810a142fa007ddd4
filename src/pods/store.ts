// Pod records in <state_dir>/pods/<name>.json: written atomically (temp file, fsync,
// rename) under a per-pod lock, read back by every command.
import path from 'node:path';
import { z } from 'zod';
import type { ChangePlan } from '../util/change-plan.js';
import { JsonRecords } from '../util/json-records.js';
import { MappingSchema, type PortMapping } from '../cni/port-mapping.js';


/** An interface added to a running pod through the runtime API (kata-network add-iface). */
const RuntimeInterfaceSchema = z.object({
  /** The host-side name (a tap, or the host end of a pair). */
  device: z.string(),
  /** Its name inside the pod. */
  name: z.string(),
  linkType: z.enum(['tap', 'pair']),
  /** jailnet created the device (destroyed at del-iface), or found it (a tap given back to the host). */
  created: z.boolean(),
  mtu: z.number(),
  hwAddr: z.string(),
  addresses: z.array(z.object({ address: z.string(), mask: z.string() })),
  /** "adding" until every step succeeded: a crash leaves it for pod rm and gc to take away. */
  state: z.enum(['adding', 'ready']),
});

const RuntimeRouteSchema = z.object({
  dest: z.string(),
  gateway: z.string().optional(),
  device: z.string(),
  family: z.union([z.literal(4), z.literal(6)]),
});

/** A pod's load balancer (kata-ipvs), as balancer/rules.ts's BalancerRules. */
const BalancerSchema = z.object({
  services: z.array(
    z.object({
      protocol: z.enum(['tcp', 'udp']),
      address: z.string(),
      port: z.number(),
      scheduler: z.string(),
      persistence: z.number().optional(),
      servers: z.array(z.object({ address: z.string(), port: z.number(), weight: z.number() })),
    }),
  ),
  timeouts: z.object({ tcp: z.number(), tcpfin: z.number(), udp: z.number() }).optional(),
});

/**
 * What netmon found in the pod's vnet that jailnet did not put there (an interface, an
 * address or a route someone added after creation): shown by pod inspect, taken away at
 * pod rm so the pod leaves nothing behind. Routes as repair/desired.ts routeKey() spells them.
 */
const ObservedSchema = z.object({
  interfaces: z.array(z.string()).default([]),
  addresses: z.array(z.object({ interface: z.string(), address: z.string() })).default([]),
  routes: z.array(z.string()).default([]),
});

const PodSchema = z.object({
  name: z.string(),
  /** The jail whose vnet the pod's containers share (for host mode: a jail without vnet). */
  jail: z.string(),
  mode: z.enum(['bridge', 'none', 'host', 'container']),
  /** For mode container: the pod whose vnet is shared. */
  sharesWith: z.string().optional(),
  /**
   * "creating" until every step succeeded (gc treats a creating pod whose creator died as
   * gone); "stopped" for a --restart always pod taken down by rc.d stop or found gone by gc.
   */
  state: z.enum(['creating', 'ready', 'removing', 'stopped']),
  creatorPid: z.number(),
  /** The process removing the pod (state "removing"): while it lives, nobody else tears the pod down. */
  removerPid: z.number().optional(),
  containerId: z.string(),
  networks: z.array(z.object({ name: z.string(), ifname: z.string(), result: z.unknown().optional() })),
  ports: z.array(MappingSchema),
  ip: z.string().optional(),
  mac: z.string().optional(),
  /** Names the pod also answers to on its networks' DNS (pod create --alias). */
  aliases: z.array(z.string()).default([]),
  restart: z.enum(['no', 'always']).default('no'),
  containers: z.array(z.object({ name: z.string(), jail: z.string(), path: z.string(), hostname: z.string() })),
  /** What the runtime API added to the running pod. */
  runtime: z
    .object({
      interfaces: z.array(RuntimeInterfaceSchema).default([]),
      routes: z.array(RuntimeRouteSchema).default([]),
      balancer: BalancerSchema.optional(),
    })
    .default({ interfaces: [], routes: [] }),
  observed: ObservedSchema.default({ interfaces: [], addresses: [], routes: [] }),
});

export type PodRecord = z.infer<typeof PodSchema>;
export type RuntimeInterface = z.infer<typeof RuntimeInterfaceSchema>;
export type RuntimeRoute = z.infer<typeof RuntimeRouteSchema>;
export type ObservedNet = z.infer<typeof ObservedSchema>;

/** A hot-plugged interface's addresses as CIDR (the record keeps the mask as a prefix length). */
export const runtimeCidrs = (entry: Pick<RuntimeInterface, 'addresses'>): string[] => entry.addresses.map((a) => `${a.address}/${a.mask}`);

/** What someone else added, one phrase each, as status, repair and topology say it. */
export const observedPhrases = (net: ObservedNet): string[] => [
  ...net.interfaces.map((name) => `interface ${name}`),
  ...net.addresses.map((a) => `address ${a.address} on ${a.interface}`),
  ...net.routes.map((route) => `route ${route}`),
];
export type { PortMapping };

/** Pod records, one JSON file per pod, each with its own lock. */
export class PodStore {
  private readonly records: JsonRecords<PodRecord>;

  constructor(stateDir: string, plan?: ChangePlan) {
    this.records = new JsonRecords(path.join(stateDir, 'pods'), PodSchema, plan);
  }

  get dir(): string {
    return this.records.dir;
  }

  locked<T>(name: string, work: () => Promise<T>): Promise<T> {
    return this.records.locked(work, name);
  }

  /** Whether a live process is creating or removing the pod right now. */
  busy(name: string): Promise<boolean> {
    return this.records.busy(name);
  }

  write(record: PodRecord): Promise<void> {
    return this.records.write(record.name, record);
  }

  read(name: string): Promise<PodRecord | undefined> {
    return this.records.read(name);
  }

  remove(name: string): Promise<void> {
    return this.records.remove(name);
  }

  all(): Promise<PodRecord[]> {
    return this.records.all();
  }
}
