// jailnet.conf: an ini file. The `ini` package reads the values; a line scan first
// rejects what ini would silently accept (a line that is neither a section nor
// key = value, an unknown section or key), naming the line.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ini from 'ini';
import { z } from 'zod';
import { DEFAULT_PLUGIN_TIMEOUT_MS } from '../util/deadline.js';
import { bundledPluginDir, defaultCniConfigDir, defaultDaemonAutostart, defaultStateDir } from '../platform.js';

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

const boolean = z
  .union([z.boolean(), z.enum(['yes', 'no', 'on', 'off', '1', '0', 'YES', 'NO'])])
  .transform((v) => v === true || ['yes', 'on', '1', 'YES'].includes(String(v)));

/** How long an autostarted jailnetd waits for the next call before it stops. */
const DEFAULT_IDLE_EXIT_SECONDS = 600;

const SECTIONS = {
  runtime: z.strictObject({
    state_dir: absolutePath.optional(),
    cni_config_dir: absolutePath.optional(),
    cni_plugin_dirs: pathList.optional(),
    cni_cache_dir: absolutePath.optional(),
    tool_path: z
      .string()
      .refine((text) => text.split(':').every((dir) => path.isAbsolute(dir)), { message: 'must be a colon-separated list of absolute paths' })
      .optional(),
    teardown_timeout: z.coerce.number().positive('must be a positive number of seconds').optional(),
    plugin_timeout: z.coerce.number().positive('must be a positive number of seconds').optional(),
  }),
  // The names VM-based secure-container runtimes use in their configuration.toml.
  netmon: z.strictObject({
    enable_netmon: boolean.optional(),
    path: absolutePath.optional(),
  }),
  daemon: z.strictObject({
    autostart: boolean.optional(),
    idle_exit: z.coerce.number().positive('must be a positive number of seconds').optional(),
  }),
  network: z.strictObject({
    disable_new_netns: boolean.optional(),
    internetworking_model: z.enum(['none', 'tcfilter', 'macvtap']).optional(),
  }),
} as const;

type SectionName = keyof typeof SECTIONS;

/** Every section and key jailnet.conf knows, for the manual page's drift test. */
export function configKeys(): Array<{ section: string; key: string }> {
  return Object.entries(SECTIONS).flatMap(([section, schema]) => Object.keys(schema.shape).map((key) => ({ section, key })));
}

export interface RuntimeConfig {
  stateDir: string;
  cniConfigDir: string;
  cniPluginDirs: string[];
  cniCacheDir: string;
  /** Where host tools are looked up; undefined means JAILNET_TOOL_PATH or the default. */
  toolPath: string | undefined;
  teardownTimeoutMs: number;
  /** How long one CNI plugin call may take before it is killed and undone. */
  pluginTimeoutMs: number;
}

export interface JailnetConfig {
  file: string | undefined;
  runtime: RuntimeConfig;
  netmon: { enabled: boolean; path: string | undefined };
  /** A plugin or netavark call that finds no jailnetd starts one, which stops after idleExitMs without a call. */
  daemon: { autostart: boolean; idleExitMs: number };
  network: { disableNewNetns: boolean; internetworkingModel: 'none' | 'tcfilter' | 'macvtap' };
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
    // ini would read past a NUL or another control character as if it were not there.
    const control = /[\u0000-\u0008\u000a-\u001f\u007f]/.exec(raw);
    if (control) throw new ConfigError(file, number, `control character U+${control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} in the line`);
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

export function parseConfigText(text: string, file: string): JailnetConfig {
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
  const config = resolve(file, out);
  checkConflicts(config, file, (section, key) => locations.find((l) => l.section === section && l.key === key)?.line);
  return config;
}

function resolve(file: string | undefined, sections: Partial<Record<SectionName, Record<string, unknown>>>): JailnetConfig {
  const runtime = (sections.runtime ?? {}) as z.infer<(typeof SECTIONS)['runtime']>;
  const netmon = (sections.netmon ?? {}) as z.infer<(typeof SECTIONS)['netmon']>;
  const network = (sections.network ?? {}) as z.infer<(typeof SECTIONS)['network']>;
  const daemon = (sections.daemon ?? {}) as z.infer<(typeof SECTIONS)['daemon']>;
  const stateDir = runtime.state_dir ?? defaultStateDir();
  return {
    file,
    runtime: {
      stateDir,
      cniConfigDir: runtime.cni_config_dir ?? defaultCniConfigDir(),
      cniPluginDirs: runtime.cni_plugin_dirs ?? [bundledPluginDir()],
      cniCacheDir: runtime.cni_cache_dir ?? path.join(stateDir, 'cni'),
      toolPath: runtime.tool_path,
      teardownTimeoutMs: (runtime.teardown_timeout ?? 30) * 1000,
      pluginTimeoutMs: (runtime.plugin_timeout ?? DEFAULT_PLUGIN_TIMEOUT_MS / 1000) * 1000,
    },
    netmon: { enabled: netmon.enable_netmon ?? false, path: netmon.path },
    daemon: { autostart: daemon.autostart ?? defaultDaemonAutostart(), idleExitMs: (daemon.idle_exit ?? DEFAULT_IDLE_EXIT_SECONDS) * 1000 },
    network: { disableNewNetns: network.disable_new_netns ?? false, internetworkingModel: network.internetworking_model ?? 'none' },
  };
}

/** Options that cannot hold together, reported with both keys and the later key's line. */
function checkConflicts(config: JailnetConfig, file: string, lineOf: (section: string, key: string) => number | undefined): void {
  if (config.network.disableNewNetns) checkHostModeConflicts(config, file, lineOf);
  const model = config.network.internetworkingModel;
  // In a VM runtime these join the VM's tap to the pod's interface. A jail has no VM: the
  // pod's interface itself is in the pod's vnet, so `none` is what jailnet always does.
  if (model !== 'none') {
    throw new ConfigError(file, lineOf('network', 'internetworking_model'),
      `[network] internetworking_model = ${model} is not for jails: ${model} joins a VM's tap to the pod's interface, and a jail has no VM (its interface is in its own vnet); use none`);
  }
}

function checkHostModeConflicts(config: JailnetConfig, file: string, lineOf: (section: string, key: string) => number | undefined): void {
  if (config.netmon.enabled) {
    throw new ConfigError(file, lineOf('netmon', 'enable_netmon') ?? lineOf('network', 'disable_new_netns'),
      '[network] disable_new_netns conflicts with [netmon] enable_netmon: without a new network namespace there is nothing to monitor');
  }
  if (config.network.internetworkingModel !== 'none') {
    throw new ConfigError(file, lineOf('network', 'internetworking_model') ?? lineOf('network', 'disable_new_netns'),
      `[network] disable_new_netns works only with [network] internetworking_model = none, not ${config.network.internetworkingModel}`);
  }
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
    if (file === undefined && code === 'ENOENT') return resolve(undefined, {});
    throw new ConfigError(target, undefined, `cannot read: ${(error as Error).message}`);
  }
  return parseConfigText(text, target);
}
