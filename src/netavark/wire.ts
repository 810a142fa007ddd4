// The JSON podman's libnetwork sends its netavark executable (setup, teardown), in both wire
// forms: `networks` as a map (podman ≤ 5) and as an ordered array (podman 6). As netavark's
// serde types do: unknown keys are ignored, optional keys may be absent or null, every other
// key is required. The shapes are from ../shared/reference/netavark-contract.md §2.
import { z } from 'zod';

/** netavark's failures are `{"error": …}` with exit 1; this is one of them. */
export class NetavarkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NetavarkError';
  }
}

const optional = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);
const u16 = z.number().int().min(0).max(65535);

const SubnetSchema = z.looseObject({
  subnet: z.string(),
  gateway: optional(z.string()),
  lease_range: optional(z.looseObject({ start_ip: optional(z.string()), end_ip: optional(z.string()) })),
});

const RouteSchema = z.looseObject({
  destination: z.string(),
  gateway: optional(z.string()),
  metric: optional(z.number().int().min(0).max(0xffffffff)),
  route_type: optional(z.string()),
});

export const NetworkSchema = z.looseObject({
  name: z.string(),
  id: z.string(),
  driver: z.string(),
  network_interface: optional(z.string()),
  created: optional(z.string()),
  subnets: optional(z.array(SubnetSchema)),
  routes: optional(z.array(RouteSchema)),
  ipv6_enabled: z.boolean(),
  internal: z.boolean(),
  dns_enabled: z.boolean(),
  network_dns_servers: optional(z.array(z.string())),
  labels: optional(z.record(z.string(), z.string())),
  options: optional(z.record(z.string(), z.string())),
  ipam_options: optional(z.record(z.string(), z.string())),
});

const PerNetworkFields = {
  interface_name: z.string(),
  static_ips: optional(z.array(z.string())),
  aliases: optional(z.array(z.string())),
  static_mac: optional(z.string()),
  options: optional(z.record(z.string(), z.string())),
};

const PerNetworkSchema = z.looseObject(PerNetworkFields);
const NamedPerNetworkSchema = z.looseObject({ name: z.string(), ...PerNetworkFields });

export const PortMappingSchema = z.looseObject({
  host_ip: z.string(),
  container_port: u16,
  host_port: u16,
  range: u16,
  protocol: z.string(),
});

export const NetworkOptionsSchema = z.looseObject({
  container_id: z.string(),
  container_name: z.string(),
  container_hostname: optional(z.string()),
  port_mappings: optional(z.array(PortMappingSchema)),
  // podman ≤ 5: a map; podman 6: an ordered array of named entries.
  networks: z.union([z.record(z.string(), PerNetworkSchema), z.array(NamedPerNetworkSchema)]),
  network_info: z.record(z.string(), NetworkSchema),
  dns_servers: optional(z.array(z.string())),
});

export type Network = z.infer<typeof NetworkSchema>;
export type PortMappingWire = z.infer<typeof PortMappingSchema>;
export type NamedPerNetwork = z.infer<typeof NamedPerNetworkSchema>;

/** NetworkOptions with `networks` in one form: ordered, each entry named (the map's order is its key order). */
export interface NetworkOptions {
  container_id: string;
  container_name: string;
  container_hostname?: string;
  port_mappings?: PortMappingWire[];
  networks: NamedPerNetwork[];
  network_info: Record<string, Network>;
  dns_servers?: string[];
}

/** A zod issue said as serde says it (``missing field `x` ``, ``invalid type: …``), with where. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
  const field = issue.path[issue.path.length - 1];
  if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined && field !== undefined) {
    return `missing field \`${String(field)}\`${issue.path.length > 1 ? ` at ${issue.path.slice(0, -1).join('.')}` : ''}`;
  }
  if (issue.code === 'invalid_union') return `invalid type${where}: expected a map or a sequence of networks`;
  return `invalid value${where}: ${issue.message}`;
}

/** Reads a JSON document against a schema; `context` heads the error, as netavark's chained messages do. */
export function readWire<T extends z.ZodType>(schema: T, text: string, context: string): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new NetavarkError(`${context}: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new NetavarkError(`${context}: ${describeIssue(parsed.error.issues[0] as z.core.$ZodIssue)}`);
  return parsed.data;
}

export function readNetworkOptions(text: string): NetworkOptions {
  const options = readWire(NetworkOptionsSchema, text, 'failed to load network options');
  const networks = Array.isArray(options.networks) ? options.networks : Object.entries(options.networks).map(([name, entry]) => ({ ...entry, name }));
  const seen = new Set<string>();
  for (const { name } of networks) {
    if (seen.has(name)) throw new NetavarkError(`failed to load network options: network ${name} is given twice`);
    seen.add(name);
  }
  const { container_id, container_name, container_hostname, port_mappings, network_info, dns_servers } = options;
  return { container_id, container_name, container_hostname, port_mappings, networks, network_info, dns_servers };
}
