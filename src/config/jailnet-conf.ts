// jailnet.conf: an ini file. The `ini` package reads the values; a line scan first
// rejects what ini would silently accept (a line that is neither a section nor
// key = value, an unknown section or key), naming the line.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ini from 'ini';
import { z } from 'zod';
import { bundledPluginDir, defaultCniConfigDir, defaultStateDir } from '../platform.js';

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    message: string,
  ) {
    super(line === undefined ? `${file}: ${message}` : `${file}:${line}: ${message}`);
    this.name = 'ConfigError';
  }
}

const absolutePath = z.string().refine((p) => path.isAbsolute(p), { message: 'must be an absolute path' });
const pathList = z
  .string()
  .transform((text) => text.split(/[,:]/).map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(absolutePath).min(1));

const SECTIONS = {
  runtime: z.strictObject({
    state_dir: absolutePath.optional(),
    cni_config_dir: absolutePath.optional(),
    cni_plugin_dirs: pathList.optional(),
    cni_cache_dir: absolutePath.optional(),
  }),
} as const;

type SectionName = keyof typeof SECTIONS;

export interface RuntimeConfig {
  stateDir: string;
  cniConfigDir: string;
  cniPluginDirs: string[];
  cniCacheDir: string;
}

export interface JailnetConfig {
  file: string | undefined;
  runtime: RuntimeConfig;
}

interface KeyLocation {
  section: string;
  key: string;
  line: number;
}

/** Checks the shape of every line and returns where each key stands. */
function scanLines(text: string, file: string): KeyLocation[] {
  const keys: KeyLocation[] = [];
  let section = '';
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    const number = index + 1;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = (header[1] as string).trim();
      if (!(section in SECTIONS)) {
        throw new ConfigError(file, number, `unknown section [${section}] (known: ${Object.keys(SECTIONS).join(', ')})`);
      }
      return;
    }
    const pair = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (!pair) throw new ConfigError(file, number, `malformed line, expected "key = value" or "[section]": ${line}`);
    if (section === '') throw new ConfigError(file, number, `key "${pair[1]}" is outside any section`);
    if ((pair[2] as string).trim() === '') throw new ConfigError(file, number, `key "${pair[1]}" has no value`);
    keys.push({ section, key: pair[1] as string, line: number });
  });
  return keys;
}

export function parseConfigText(text: string, file: string): Partial<Record<SectionName, Record<string, unknown>>> {
  const locations = scanLines(text, file);
  const seen = new Map<string, number>();
  for (const { section, key, line } of locations) {
    const id = `${section}.${key}`;
    const first = seen.get(id);
    if (first !== undefined) throw new ConfigError(file, line, `key "${key}" in [${section}] repeats line ${first}`);
    seen.set(id, line);
  }
  const parsed = ini.parse(text) as Record<string, Record<string, unknown>>;
  const out: Partial<Record<SectionName, Record<string, unknown>>> = {};
  for (const name of Object.keys(SECTIONS) as SectionName[]) {
    const values = parsed[name];
    if (!values) continue;
    const result = SECTIONS[name].safeParse(values);
    if (!result.success) {
      const issue = result.error.issues[0];
      const key = issue?.code === 'unrecognized_keys' ? issue.keys[0] : String(issue?.path[0] ?? '');
      const line = locations.find((l) => l.section === name && l.key === key)?.line;
      const reason = issue?.code === 'unrecognized_keys' ? `unknown key "${key}" in [${name}]` : `[${name}] ${key}: ${issue?.message}`;
      throw new ConfigError(file, line, reason);
    }
    out[name] = result.data as Record<string, unknown>;
  }
  return out;
}

function resolveRuntime(values: Record<string, unknown> | undefined): RuntimeConfig {
  const runtime = (values ?? {}) as z.infer<(typeof SECTIONS)['runtime']>;
  const stateDir = runtime.state_dir ?? defaultStateDir();
  return {
    stateDir,
    cniConfigDir: runtime.cni_config_dir ?? defaultCniConfigDir(),
    cniPluginDirs: runtime.cni_plugin_dirs ?? [bundledPluginDir()],
    cniCacheDir: runtime.cni_cache_dir ?? path.join(stateDir, 'cni'),
  };
}

/**
 * Loads the config. An explicitly named file must exist; the default file may be
 * absent, and then the defaults apply.
 */
export async function loadConfig(file: string | undefined, defaultFile: string): Promise<JailnetConfig> {
  const target = file ?? defaultFile;
  let text: string;
  try {
    text = await fs.readFile(target, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (file === undefined && code === 'ENOENT') return { file: undefined, runtime: resolveRuntime(undefined) };
    throw new ConfigError(target, undefined, `cannot read: ${(error as Error).message}`);
  }
  const sections = parseConfigText(text, target);
  return { file: target, runtime: resolveRuntime(sections.runtime) };
}
