// Network configuration lists: parsed from a file, or found by name in a config
// directory the way libcni does (*.conflist first, then single-plugin *.conf/*.json).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CniError, ErrorCode } from './errors.js';
import { decodeJson, parseConfig } from './netconf.js';
import { validateCniNetworkName } from './validate.js';
import { compareVersions, isSupported } from './versions.js';

const PluginEntrySchema = z.looseObject({
  type: z
    .string()
    .min(1)
    .refine((t) => !t.includes('/') && t !== '.' && t !== '..', { message: 'plugin type must be a file name' }),
  capabilities: z.record(z.string(), z.boolean()).optional(),
});

const ConfListSchema = z.looseObject({
  cniVersion: z.string().optional(),
  cniVersions: z.array(z.string()).optional(),
  name: z.string(),
  disableCheck: z.boolean().optional(),
  disableGC: z.boolean().optional(),
  plugins: z.array(PluginEntrySchema).min(1, 'no plugins in list'),
});

export type PluginEntry = z.infer<typeof PluginEntrySchema>;

export interface ConfList {
  name: string;
  cniVersion: string;
  disableCheck: boolean;
  disableGC: boolean;
  plugins: PluginEntry[];
  /** The file's bytes, kept for the result cache as libcni keeps them. */
  bytes: Buffer;
}

/** The version to speak: the highest supported of cniVersion ∪ cniVersions (libcni 1.2). */
function pickVersion(conf: z.infer<typeof ConfListSchema>): string {
  const offered = [conf.cniVersion, ...(conf.cniVersions ?? [])].filter((v): v is string => typeof v === 'string');
  const usable = offered.filter(isSupported).sort(compareVersions);
  const chosen = usable.at(-1);
  if (chosen) return chosen;
  throw new CniError(
    ErrorCode.IncompatibleVersion,
    'incompatible CNI versions',
    `network configuration offers ${JSON.stringify(offered)}, jailnet supports 0.3.0 to 1.1.0`,
  );
}

export function parseConfList(bytes: Buffer, source: string): ConfList {
  const raw = decodeJson(bytes, `network configuration list ${source}`);
  const conf = parseConfig(ConfListSchema, raw, `network configuration list ${source}`);
  validateCniNetworkName(conf.name);
  return {
    name: conf.name,
    cniVersion: pickVersion(conf),
    disableCheck: conf.disableCheck ?? false,
    disableGC: conf.disableGC ?? false,
    plugins: conf.plugins,
    bytes,
  };
}

/** A legacy single-plugin file becomes a one-element list. */
function singlePluginToList(bytes: Buffer, source: string): ConfList {
  const raw = decodeJson(bytes, `network configuration ${source}`) as Record<string, unknown>;
  const { cniVersion, name, disableCheck, ...plugin } = raw ?? {};
  const list = { cniVersion, name, disableCheck, plugins: [plugin] };
  return parseConfList(Buffer.from(JSON.stringify(list)), source);
}

export async function loadConfListFile(file: string): Promise<ConfList> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    throw new CniError(ErrorCode.IOFailure, `cannot read network configuration ${file}`, (error as Error).message);
  }
  return file.endsWith('.conflist') ? parseConfList(bytes, file) : singlePluginToList(bytes, file);
}

async function filesWithExtensions(dir: string, extensions: string[]): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((n) => extensions.includes(path.extname(n)))
    .sort()
    .map((n) => path.join(dir, n));
}

/** Every readable network in a config directory, in libcni's order; broken files are reported, not fatal. */
export async function listNetworks(dir: string): Promise<{ lists: ConfList[]; errors: CniError[] }> {
  const lists: ConfList[] = [];
  const errors: CniError[] = [];
  const files = [
    ...(await filesWithExtensions(dir, ['.conflist'])),
    ...(await filesWithExtensions(dir, ['.conf', '.json'])),
  ];
  for (const file of files) {
    try {
      lists.push(await loadConfListFile(file));
    } catch (error) {
      errors.push(error instanceof CniError ? error : new CniError(ErrorCode.IOFailure, String(error)));
    }
  }
  return { lists, errors };
}

export async function findNetwork(dir: string, name: string): Promise<ConfList> {
  validateCniNetworkName(name);
  const { lists, errors } = await listNetworks(dir);
  const found = lists.find((list) => list.name === name);
  if (!found) {
    const unreadable = errors.map((e) => e.describe()).join('; ');
    throw new CniError(
      ErrorCode.InvalidConfig,
      `no net configuration with name "${name}" in ${dir}`,
      unreadable ? `unreadable files: ${unreadable}` : '',
    );
  }
  return found;
}
