// netavark's setup and teardown on jailnet's own plugins: each network of the container is
// one CNI chain (plan.ts) run in this process through the chain runner, so its attachment
// is recorded in jailnet's state directory exactly as a CNI one is (status, repair, netmon
// and gc see it), and its result is cached for the teardown.
import { ResultCache } from '../cni/cache.js';
import { ChainRunner, type RuntimeConf } from '../cni/chain.js';
import { CniError, ErrorCode } from '../cni/errors.js';
import { loadConfig } from '../config/jailnet-conf.js';
import type { Host } from '../hosts/host.js';
import { bundledPluginDir, defaultConfigFile } from '../platform.js';
import { hostFromOptions } from '../hosts/select.js';
import { inProcessInvoker, runPluginDecoded } from '../plugins/in-process.js';
import { removeUnusedBridge } from '../plugins/bridge/setup.js';
import { oneLine } from '../util/teardown.js';
import { planAttachments, type NetworkAttachment } from './plan.js';
import { addNames, dnsContext, removeNames, type DnsContext } from './dns.js';
import { statusBlock, type StatusBlock } from './status-block.js';
import { NetavarkError, type NetworkOptions } from './wire.js';

export interface Backend {
  host: Host;
  runner: ChainRunner;
  dns: DnsContext;
  env: NodeJS.ProcessEnv;
  /** Whether jailnet's packet filter takes part (NETAVARK_FW is not `none`). */
  firewall: boolean;
}

export interface BackendOptions {
  /** netavark's --config: podman's network run directory (aardvark-dns's files live below it). */
  configDir: string;
  aardvarkBinary?: string;
  dnsPort: number;
  /** Whether jailnet's packet filter takes part (NETAVARK_FW is not `none`). */
  firewall: boolean;
}

/** jailnet.conf (JAILNET_CONFIG or the default), the host driver, and a chain runner over jailnet's own plugins. */
export async function openBackend(env: NodeJS.ProcessEnv, options: BackendOptions): Promise<Backend> {
  const config = await loadConfig(env.JAILNET_CONFIG, defaultConfigFile()).catch((error: Error) => {
    throw new NetavarkError(`invalid jailnet configuration: ${oneLine(error)}`);
  });
  const { host, door } = hostDriver(env);
  const runner = new ChainRunner({ pluginDirs: [bundledPluginDir()], cache: new ResultCache(config.runtime.cniCacheDir), invoker: inProcessInvoker(env) });
  return { host, runner, env, firewall: options.firewall, dns: dnsContext(door, options.configDir, options.aardvarkBinary, options.dnsPort) };
}

/** The host driver JAILNET_HOST or the OS picks; none is a netavark error. */
export function hostDriver(env: NodeJS.ProcessEnv): ReturnType<typeof hostFromOptions> {
  try {
    return hostFromOptions(undefined, { env });
  } catch (error) {
    throw new NetavarkError(`no host driver for this system: ${oneLine(error)}`);
  }
}

const runtimeConf = (containerId: string, ns: string, a: NetworkAttachment): RuntimeConf => ({ containerId, netns: ns, ifname: a.ifname, args: [], capabilityArgs: a.capabilityArgs });

/** The argument names a jail or namespace (checked as text); whether it exists, the bridge plugin's ADD finds out. */
function checkNamespace(host: Host, ns: string): void {
  try {
    host.sandboxOf(ns);
  } catch (error) {
    throw new NetavarkError(`invalid namespace path: ${oneLine(error)}`);
  }
}

/** A plugin's failure as netavark says it: a missing jail or namespace in its words. */
function netavarkError(error: unknown, host: Host, ns: string): unknown {
  if (!(error instanceof CniError)) return error;
  if (error.code === ErrorCode.UnknownContainer || error.code === ErrorCode.InvalidEnvironment) {
    if (/not found|no network stack/.test(error.message)) return new NetavarkError(`invalid namespace path: ${host.sandboxNoun} ${ns} does not exist or has no network stack of its own`);
  }
  return new NetavarkError(error.describe());
}

/** The loopback interface up with 127.0.0.1 and ::1: podman 6 no longer does it on FreeBSD, netavark does it on Linux. */
async function loopbackUp(backend: Backend, containerId: string, ns: string): Promise<void> {
  const env = { ...backend.env, CNI_COMMAND: 'ADD', CNI_CONTAINERID: containerId, CNI_NETNS: ns, CNI_IFNAME: backend.host.loopback, CNI_PATH: bundledPluginDir() };
  await runPluginDecoded('loopback', 'ADD', env, { cniVersion: '1.0.0', name: 'loopback', type: 'loopback' });
}

/**
 * Every network of the container set up in podman's order, after all of them were checked.
 * A network that fails undoes its own chain (the runner does); those before it are torn down
 * here, so a failed setup leaves nothing.
 */
export async function setup(backend: Backend, ns: string, options: NetworkOptions): Promise<Record<string, StatusBlock>> {
  const plan = planAttachments(options, { teardown: false, firewall: backend.firewall });
  if (plan.attachments.length === 0) return {};
  checkNamespace(backend.host, ns);
  const done: Array<{ attachment: NetworkAttachment; result: Record<string, unknown> }> = [];
  let named = new Set<string>();
  try {
    // The first network's ADD finds a jail or namespace that is missing, before any change.
    for (const attachment of plan.attachments) {
      done.push({ attachment, result: await backend.runner.add(attachment.list, runtimeConf(plan.containerId, ns, attachment)) });
    }
    await loopbackUp(backend, plan.containerId, ns);
    named = await addNames(backend.dns, plan.attachments);
  } catch (error) {
    await removeNames(backend.dns, plan.containerId, plan.attachments).catch(() => undefined);
    await removeAttachments(backend, plan.containerId, ns, done.map((d) => d.attachment)).catch(() => undefined);
    throw netavarkError(error, backend.host, ns);
  }
  return Object.fromEntries(done.map(({ attachment, result }) => [attachment.network, statusBlock(attachment, result, options, named.has(attachment.network))]));
}

/** Each attachment's chain deleted, newest first, then each bridge nothing uses any more; every error collected. */
async function removeAttachments(backend: Backend, containerId: string, ns: string, attachments: NetworkAttachment[]): Promise<string[]> {
  const errors: string[] = [];
  for (const attachment of [...attachments].reverse()) {
    await backend.runner.del(attachment.list, runtimeConf(containerId, ns, attachment)).catch((error: unknown) => errors.push(`${attachment.network}: ${oneLine(error)}`));
  }
  for (const bridge of new Set(attachments.map((a) => a.bridge))) {
    await removeUnusedBridge(backend.host, bridge).catch((error: unknown) => errors.push(`bridge ${bridge}: ${oneLine(error)}`));
  }
  return errors;
}

/**
 * Takes the container off each network it names, best effort: a jail or namespace that is
 * gone still has its host side cleaned (host ends, packet filter, records), and a second
 * teardown finds nothing to do. Errors are collected and reported together, as netavark's.
 */
export async function teardown(backend: Backend, ns: string, options: NetworkOptions): Promise<void> {
  // The filter's DELs always run: they find nothing where a setup had none, and a setup with the
  // filter must not leak its rules because the teardown was called without.
  const plan = planAttachments(options, { teardown: true, firewall: true });
  const errors: string[] = [];
  await removeNames(backend.dns, plan.containerId, plan.attachments).catch((error: unknown) => errors.push(`dns: ${oneLine(error)}`));
  errors.push(...(await removeAttachments(backend, plan.containerId, ns, plan.attachments)));
  if (errors.length === 1) throw new NetavarkError(errors[0] as string);
  if (errors.length > 1) throw new NetavarkError(`netavark encountered multiple errors:${errors.map((e) => `\n\t- ${e}`).join('')}`);
}
