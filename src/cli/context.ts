// What every CLI command shares: the global options, the loaded config, the host
// driver, the change plan (recorded instead of made with --dry-run), and output that is
// text by default and JSON with --json.
import path from 'node:path';
import { ResultCache } from '../cni/cache.js';
import { ChainRunner } from '../cni/chain.js';
import { podContext } from '../pods/open.js';
import { execInvoker, type Invoker } from '../cni/invoke.js';
import { loadConfig, type JailnetConfig } from '../config/jailnet-conf.js';
import type { ExecDoor } from '../hosts/exec.js';
import type { Host } from '../hosts/host.js';
import { hostFromOptions } from '../hosts/select.js';
import { defaultConfigFile } from '../platform.js';
import type { PodContext } from '../pods/pods.js';
import { ChangePlan, formatPlan } from '../util/change-plan.js';
import { noProgress, terminalProgress, type ProgressFactory } from '../util/progress.js';

export interface GlobalOptions {
  config?: string;
  host?: string;
  logLevel: string;
  json: boolean;
  dryRun: boolean;
  /** A file the changes a real run made are appended to, in the plan's format. */
  journal?: string;
}

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** What `-` reads (kata-network's input); the process's stdin when absent. */
  stdin?(): Promise<string>;
  /** Both streams are a terminal: long work may draw a progress line on stderr. */
  terminal?: boolean;
}

export interface CliContext {
  config(): Promise<JailnetConfig>;
  /** The host driver chosen by --host, JAILNET_HOST or the OS (tool path from the config). */
  host(): Promise<Host>;
  /** The exec door behind host(). */
  door(): Promise<ExecDoor>;
  /** What the command changes; with --dry-run, what it would change. */
  readonly plan: ChangePlan;
  runner(): Promise<ChainRunner>;
  /** The environment jailnet's plugins get from this command: its --config and --host. */
  pluginEnv(): NodeJS.ProcessEnv;
  pods(): Promise<PodContext>;
  dryRun(): boolean;
  /** --json: output and errors are JSON. */
  json(): boolean;
  readonly io: CliIO;
  /** Prints `data` as JSON with --json, otherwise the text `human()` returns (nothing when empty). */
  print(data: unknown, human: () => string): void;
  /** With --dry-run, prints the plan and returns true: the command has nothing else to say. */
  printPlanIfDry(): boolean;
  /** The exit code of a command that ran to its end but has a non-zero answer (status: a check failed). */
  exitCode: number;
  /** Errors of a command that went on past them: one line each on stderr, and exit code 1. */
  report(errors: string[]): void;
  /** Progress of long work: a line on a terminal, nothing in a pipe or with --json. */
  progress: ProgressFactory;
}

/**
 * Each plugin call is one step of the plan; in plan mode (`inner` absent) the plugin is
 * not run and ADD answers with an empty result of the list's version.
 */
function recordingInvoker(plan: ChangePlan, inner?: Invoker): Invoker {
  return {
    async invoke(type, env, stdin) {
      const conf = stdin as { name?: string; cniVersion?: string };
      plan.cni({ command: env.command, plugin: type, network: conf.name ?? '', netns: env.netns ?? '', ifname: env.ifname ?? '' });
      if (inner) return inner.invoke(type, env, stdin);
      return env.command === 'ADD' ? { cniVersion: conf.cniVersion ?? '1.0.0' } : undefined;
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

export function createContext(globals: () => GlobalOptions, io: CliIO): CliContext {
  let loaded: Promise<JailnetConfig> | undefined;
  let driver: Promise<{ host: Host; door: ExecDoor }> | undefined;
  let plan: ChangePlan | undefined;
  const changes = () => (plan ??= new ChangePlan(globals().dryRun));
  const selected = () => {
    driver ??= context.config().then(({ runtime }) =>
      hostFromOptions(globals().host, { plan: changes(), ...(runtime.toolPath ? { toolPath: runtime.toolPath } : {}) }),
    );
    return driver;
  };
  const context: CliContext = {
    io,
    exitCode: 0,
    get plan() {
      return changes();
    },
    config() {
      loaded ??= loadConfig(globals().config, process.env.JAILNET_CONFIG ?? defaultConfigFile());
      return loaded;
    },
    dryRun: () => globals().dryRun,
    json: () => globals().json,
    pluginEnv: () => pluginEnvironment(globals()),
    async host() {
      return (await selected()).host;
    },
    async door() {
      return (await selected()).door;
    },
    async runner() {
      const { runtime } = await context.config();
      return new ChainRunner({
        pluginDirs: runtime.cniPluginDirs,
        cache: new ResultCache(runtime.cniCacheDir, changes()),
        invoker: recordingInvoker(changes(), globals().dryRun ? undefined : execInvoker(pluginEnvironment(globals()), { timeoutMs: runtime.pluginTimeoutMs })),
      });
    },
    async pods() {
      return podContext(await context.config(), await context.host(), await context.runner(), changes(), context.progress);
    },
    print(data, human) {
      const text = globals().json ? JSON.stringify(data) : human();
      if (text !== '') io.stdout(`${text}\n`);
    },
    progress: (label, total) => (io.terminal && !globals().json ? terminalProgress(io.stderr) : noProgress)(label, total),
    report(errors) {
      for (const error of errors) io.stderr(`jailnet: ${error}\n`);
      if (errors.length > 0) context.exitCode = 1;
    },
    printPlanIfDry() {
      if (!globals().dryRun) return false;
      const steps = changes().steps;
      context.print({ plan: steps }, () => formatPlan(steps));
      return true;
    },
  };
  return context;
}

/** What `-` means on a command line: the input the caller gave (the daemon's request), else this process's stdin. */
export async function readStdin(context: CliContext): Promise<string> {
  if (context.io.stdin) return context.io.stdin();
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
