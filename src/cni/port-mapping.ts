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
