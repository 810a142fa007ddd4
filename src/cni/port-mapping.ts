// The portMappings capability (CNI conventions: runtimeConfig.portMappings), one shape for
// the portmap plugin and jailnet's own pods (`pod create -p`).
import { z } from 'zod';
import { parseIP } from '../ipam/ip.js';

export const MappingSchema = z.object({
  hostPort: z.number().int().min(1).max(65535),
  containerPort: z.number().int().min(1).max(65535),
  protocol: z.enum(['tcp', 'udp', 'sctp']).default('tcp'),
  hostIP: z
    .string()
    .optional()
    .refine((ip) => !ip || parseIP(ip) !== null, { message: 'hostIP must be an IP address' }),
});

export type PortMapping = z.infer<typeof MappingSchema>;

/** The host addresses a mapping listens on: every one (no hostIP), every one of a family (0.0.0.0, ::), or one. */
function hostAddressesMeet(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return true;
  const [ipA, ipB] = [parseIP(a), parseIP(b)];
  if (!ipA || !ipB || ipA.family !== ipB.family) return false;
  return ipA.value === ipB.value || ipA.value === 0n || ipB.value === 0n;
}

/**
 * Two mappings that claim one host port (same protocol and port, host addresses that meet),
 * which a packet filter could only send to one of them: refused rather than one silently
 * winning.
 */
export function hostPortClash(mappings: PortMapping[]): [PortMapping, PortMapping] | undefined {
  for (let i = 0; i < mappings.length; i++) {
    for (let j = i + 1; j < mappings.length; j++) {
      const [a, b] = [mappings[i] as PortMapping, mappings[j] as PortMapping];
      if (a.protocol === b.protocol && a.hostPort === b.hostPort && hostAddressesMeet(a.hostIP, b.hostIP)) return [a, b];
    }
  }
  return undefined;
}

export function describeClash([a, b]: [PortMapping, PortMapping]): string {
  return `host port ${a.hostPort}/${a.protocol} is published twice (to container ports ${a.containerPort} and ${b.containerPort})`;
}
