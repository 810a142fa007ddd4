// What every CLI command shares: the global options, the loaded config, the host
// driver (in plan mode with --dry-run), and output that is text by default and JSON
// with --json.
import path from 'node:path';
import { ResultCache } from '../cni/cache.js';
import { ChainRunner } from '../cni/chain.js';
import { findNetwork } from '../cni/conflist.js';
import { execInvoker, type Invoker } from '../cni/invoke.js';
import { loadConfig, type JailnetConfig } from '../config/jailnet-conf.js';
import type { ExecDoor } from '../hosts/exec.js';
import type { Host } from '../hosts/host.js';
import { hostFromOptions } from '../hosts/select.js';
import { defaultConfigFile } from '../platform.js';
import type { PodContext } from '../pods/pods.js';
import { PodStore } from '../pods/store.js';

export interface GlobalOptions {
  config?: string;
  host?: string;
  logLevel: string;
  json: boolean;
  dryRun: boolean;
}

export interface CliContext {
  config(): Promise<JailnetConfig>;
  /** The host driver chosen by --host, JAILNET_HOST or the OS (tool path from the config). */
  host(): Promise<Host>;
  /** A driver that runs commands even with --dry-run, for commands that only read. */
  readingHost(): Promise<Host>;
  /** The exec door behind host(): its plan holds the argv lists with --dry-run. */
  door(): Promise<ExecDoor>;
  runner(): Promise<ChainRunner>;
  pods(): Promise<PodContext>;
  dryRun(): boolean;
  /** Prints `data` as JSON with --json, otherwise the text `human()` returns (nothing when empty). */
  print(data: unknown, human: () => string): void;
}

/** In plan mode plugins are not run: each call is shown as one line of the plan. */
function planningInvoker(door: ExecDoor): Invoker {
  return {
    async invoke(type, env, stdin) {
      const conf = stdin as { name?: string };
      door.plan.push(['cni', env.command, type, `network=${conf.name ?? ''}`, `netns=${env.netns ?? ''}`, `ifname=${env.ifname ?? ''}`]);
      return env.command === 'ADD' ? { cniVersion: (stdin as { cniVersion?: string }).cniVersion ?? '1.0.0' } : undefined;
    },
  };
}

/** jailnet's plugins read the same jailnet.conf (state_dir) and host driver as the CLI that runs them. */
function pluginEnvironment(options: GlobalOptions): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (options.config) env.JAILNET_CONFIG = path.resolve(options.config);
  if (options.host) env.JAILNET_HOST = options.host;
  return env;
}

export function createContext(globals: () => GlobalOptions, write: (text: string) => void): CliContext {
  let loaded: Promise<JailnetConfig> | undefined;
  let driver: Promise<{ host: Host; door: ExecDoor }> | undefined;
  const context: CliContext = {
    config() {
      loaded ??= loadConfig(globals().config, process.env.JAILNET_CONFIG ?? defaultConfigFile());
      return loaded;
    },
    dryRun: () => globals().dryRun,
    async host() {
      return (await selected()).host;
    },
    async door() {
      return (await selected()).door;
    },
    async readingHost() {
      return (await driverFor(false)).host;
    },
    async runner() {
      const { runtime } = await context.config();
      return new ChainRunner({
        pluginDirs: runtime.cniPluginDirs,
        cache: new ResultCache(runtime.cniCacheDir),
        invoker: globals().dryRun ? planningInvoker(await context.door()) : execInvoker(pluginEnvironment(globals())),
      });
    },
    async pods() {
      const config = await context.config();
      return {
        host: await context.host(),
        runner: await context.runner(),
        store: new PodStore(config.runtime.stateDir),
        network: (name: string) => findNetwork(config.runtime.cniConfigDir, name),
        teardownTimeoutMs: config.runtime.teardownTimeoutMs,
        planning: globals().dryRun,
        disableNewNetns: config.network.disableNewNetns,
      };
    },
    print(data, human) {
      if (globals().json) {
        write(`${JSON.stringify(data)}\n`);
        return;
      }
      const text = human();
      if (text !== '') write(`${text}\n`);
    },
  };
  const driverFor = async (planning: boolean) => {
    const { runtime } = await context.config();
    return hostFromOptions(globals().host, { planning, ...(runtime.toolPath ? { toolPath: runtime.toolPath } : {}) });
  };
  const selected = () => {
    driver ??= driverFor(globals().dryRun);
    return driver;
  };
  return context;
}
