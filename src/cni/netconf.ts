// The keys every plugin configuration may carry (SPEC.md "Plugin configuration objects").
// Plugin-specific keys pass through: each plugin parses its own schema from the same object.
import { z } from 'zod';
import { CniError, ErrorCode } from './errors.js';
import { DNSSchema } from './result.js';

export const PluginConfSchema = z.looseObject({
  cniVersion: z.string().optional(),
  name: z.string().optional(),
  type: z.string().optional(),
  capabilities: z.record(z.string(), z.boolean()).optional(),
  runtimeConfig: z.record(z.string(), z.unknown()).optional(),
  prevResult: z.unknown().optional(),
  args: z.record(z.string(), z.unknown()).optional(),
  ipam: z.looseObject({ type: z.string().optional() }).optional(),
  // SPEC.md's DNS object: of another type, the reference's JSON decoding fails too.
  dns: DNSSchema.optional(),
  ipMasq: z.boolean().optional(),
  'cni.dev/valid-attachments': z.array(z.looseObject({ containerID: z.string(), ifname: z.string() })).optional(),
});

export type PluginConf = z.infer<typeof PluginConfSchema>;

export function decodeJson(bytes: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString());
  } catch (error) {
    throw new CniError(ErrorCode.DecodingFailure, `error unmarshalling ${what}`, (error as Error).message);
  }
}

/** Parses a value against a plugin's schema; a mismatch is an invalid configuration (code 7). */
export function parseConfig<T extends z.ZodType>(schema: T, raw: unknown, what = 'network config'): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new CniError(ErrorCode.InvalidConfig, `invalid ${what}`, z.prettifyError(parsed.error).replace(/\n/g, '; '));
  }
  return parsed.data;
}
