// What the pods' code works on (PodContext), built from a loaded jailnet.conf: by the CLI
// for each command (with its plan, --dry-run's or the journal's), and by jailnetd for each
// runtime API call it serves, from its own environment, as the CLI would in its place.
import path from 'node:path';
import { ResultCache } from '../cni/cache.js';
import { ChainRunner } from '../cni/chain.js';
import { findNetwork } from '../cni/conflist.js';
import { execInvoker } from '../cni/invoke.js';
import { loadConfig, type JailnetConfig } from '../config/jailnet-conf.js';
import type { Host } from '../hosts/host.js';
import { hostFromOptions } from '../hosts/select.js';
import { defaultConfigFile } from '../platform.js';
import { ChangePlan } from '../util/change-plan.js';
import type { ProgressFactory } from '../util/progress.js';
import type { PodContext } from './pods.js';
import { PodStore } from './store.js';

export function podContext(config: JailnetConfig, host: Host, runner: ChainRunner, plan: ChangePlan, progress?: ProgressFactory): PodContext {
  const { runtime } = config;
  return {
    ...(progress ? { progress } : {}),
    host,
    runner,
    store: new PodStore(runtime.stateDir, plan),
    network: (name: string) => findNetwork(runtime.cniConfigDir, name),
    teardownTimeoutMs: runtime.teardownTimeoutMs,
    planning: plan.planning,
    disableNewNetns: config.network.disableNewNetns,
    stateDir: runtime.stateDir,
    attachmentsDir: path.join(runtime.stateDir, 'attachments'),
    cniConfigDir: runtime.cniConfigDir,
  };
}

/**
 * A pod context for a process without CLI options (jailnetd): jailnet.conf from
 * JAILNET_CONFIG or the default, the driver from JAILNET_HOST or the OS, changes made (no
 * plan), the plugins run with `env`.
 */
export async function podContextFromEnv(env: NodeJS.ProcessEnv): Promise<PodContext> {
  const config = await loadConfig(env.JAILNET_CONFIG, defaultConfigFile());
  const { runtime } = config;
  const plan = new ChangePlan(false);
  const { host } = hostFromOptions(env.JAILNET_HOST, { plan, env, ...(runtime.toolPath ? { toolPath: runtime.toolPath } : {}) });
  const runner = new ChainRunner({
    pluginDirs: runtime.cniPluginDirs,
    cache: new ResultCache(runtime.cniCacheDir, plan),
    invoker: execInvoker(env, { timeoutMs: runtime.pluginTimeoutMs }),
  });
  return podContext(config, host, runner, plan);
}
