// The chain runner: libcni's AddNetworkList / DelNetworkList / CheckNetworkList /
// GCNetworkList / GetStatusNetworkList over jailnet's invoker and result cache.
import { formatCniArgs, type CniArgs } from './args.js';
import { whileUndoing } from '../util/deadline.js';
import { ResultCache, type AttachmentKey, type CacheEntry } from './cache.js';
import type { ConfList, PluginEntry } from './conflist.js';
import { CniError, ErrorCode, asCniError } from './errors.js';
import { NoAnswerError, type InvokeEnv, type Invoker } from './invoke.js';
import { formatResult, parseResult } from './result.js';
import type { Attachment } from './skel.js';
import { validateContainerId, validateCniInterfaceName, validateCniNetworkName } from './validate.js';
import { compareVersions, requireCommandAllowed, versionAllows, type CniCommand } from './versions.js';

export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifname: string;
  args: CniArgs;
  /** Capability arguments (portMappings, ips, mac …), given only to plugins that declare them. */
  capabilityArgs: Record<string, unknown>;
}

export interface ChainOptions {
  pluginDirs: string[];
  cache: ResultCache;
  invoker: Invoker;
}

/** The stdin of one plugin: its entry plus name, cniVersion, runtimeConfig and prevResult. */
export function buildPluginConfig(
  list: ConfList,
  plugin: PluginEntry,
  prevResult: unknown,
  capabilityArgs: Record<string, unknown>,
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [capability, enabled] of Object.entries(plugin.capabilities ?? {})) {
    if (enabled && capability in capabilityArgs) runtimeConfig[capability] = capabilityArgs[capability];
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return conf;
}

function joinErrors(errors: CniError[], what: string): CniError | undefined {
  if (errors.length === 0) return undefined;
  if (errors.length === 1) return errors[0];
  return new CniError(errors[0]?.code ?? ErrorCode.PluginFailed, what, errors.map((e) => e.describe()).join('; '));
}

export class ChainRunner {
  constructor(private readonly options: ChainOptions) {}

  /** Where the cached result of an attachment lives. */
  cacheFile(key: AttachmentKey): string {
    return this.options.cache.file(key);
  }

  private key(list: ConfList, rt: Pick<RuntimeConf, 'containerId' | 'ifname'>): AttachmentKey {
    return { network: list.name, containerId: rt.containerId, ifname: rt.ifname };
  }

  private env(command: CniCommand, rt?: RuntimeConf): InvokeEnv {
    const base: InvokeEnv = { command, path: this.options.pluginDirs };
    if (!rt) return base;
    return { ...base, containerId: rt.containerId, netns: rt.netns, ifname: rt.ifname, args: formatCniArgs(rt.args) };
  }

  private validateAttachment(list: ConfList, rt: RuntimeConf): void {
    validateContainerId(rt.containerId);
    validateCniNetworkName(list.name);
    validateCniInterfaceName(rt.ifname);
  }

  /**
   * Runs ADD through the chain, caches the final result and returns it in the list's
   * version. When a plugin fails, the plugins before it are deleted again, newest
   * first, as a runtime would (podman tears a failed setup down) — and the failing one
   * too when it gave no answer (killed, timed out): what it did is unknown. A plugin that
   * answered with an error has undone its own work, and may have refused because the
   * attachment already exists, which a DEL must then not destroy.
   */
  async add(list: ConfList, rt: RuntimeConf): Promise<Record<string, unknown>> {
    this.validateAttachment(list, rt);
    let prevResult: Record<string, unknown> | undefined;
    const added: PluginEntry[] = [];
    try {
      for (const plugin of list.plugins) {
        const stdin = buildPluginConfig(list, plugin, prevResult, rt.capabilityArgs);
        const output = await this.options.invoker.invoke(plugin.type, this.env('ADD', rt), stdin).catch((error: unknown) => {
          if (error instanceof NoAnswerError) added.push(plugin);
          throw error;
        });
        added.push(plugin);
        if (output === undefined) throw new CniError(ErrorCode.PluginFailed, `plugin type="${plugin.type}" returned no result for ADD`);
        prevResult = formatResult(parseResult(output, list.cniVersion), list.cniVersion);
      }
      const result = prevResult ?? {};
      await this.options.cache.write(this.key(list, rt), { config: list.bytes, netns: rt.netns, cniArgs: rt.args, capabilityArgs: rt.capabilityArgs, result });
      return result;
    } catch (error) {
      return this.undoAdd(list, rt, added, prevResult, asCniError(error));
    }
  }

  /** DELs what a failed ADD added, newest first; rethrows the failure, naming what could not be undone. */
  private async undoAdd(list: ConfList, rt: RuntimeConf, added: PluginEntry[], prevResult: unknown, failure: CniError): Promise<never> {
    const left: string[] = [];
    const usesResult = compareVersions(list.cniVersion, '0.4.0') >= 0;
    await whileUndoing(async () => {
      for (const plugin of [...added].reverse()) {
        const stdin = buildPluginConfig(list, plugin, usesResult ? prevResult : undefined, rt.capabilityArgs);
        await this.options.invoker.invoke(plugin.type, this.env('DEL', rt), stdin).catch((error: unknown) => left.push(asCniError(error).describe()));
      }
    });
    if (left.length === 0) throw failure;
    throw new CniError(failure.code, failure.message, [failure.details, `undoing the ADD failed: ${left.join('; ')}`].filter(Boolean).join('; '));
  }

  /** Every attachment in the result cache, of any network. */
  cachedAttachments(): Promise<CacheEntry[]> {
    return this.options.cache.all();
  }

  /** Runs DEL through the chain in reverse with the cached result; every plugin runs even if one fails. */
  async del(list: ConfList, rt: RuntimeConf): Promise<void> {
    this.validateAttachment(list, rt);
    // libcni hands the cached result to DEL from 0.4.0 on; older lists never had one.
    const usesCache = compareVersions(list.cniVersion, '0.4.0') >= 0;
    const cached = usesCache ? await this.options.cache.read(this.key(list, rt)) : undefined;
    const prevResult = cached?.result ?? undefined;
    // A DEL without capability arguments (`jailnet cni del`) gets those of the ADD, so a
    // plugin that needs them to find its state (the reference portmap) still cleans up.
    const capabilityArgs = Object.keys(rt.capabilityArgs).length > 0 ? rt.capabilityArgs : (cached?.capabilityArgs ?? {});
    const errors: CniError[] = [];
    for (const plugin of [...list.plugins].reverse()) {
      const stdin = buildPluginConfig(list, plugin, prevResult, capabilityArgs);
      try {
        await this.options.invoker.invoke(plugin.type, this.env('DEL', rt), stdin);
      } catch (error) {
        errors.push(asCniError(error));
      }
    }
    const failure = joinErrors(errors, 'DEL failed');
    if (failure) throw failure;
    await this.options.cache.remove(this.key(list, rt));
  }

  async check(list: ConfList, rt: RuntimeConf): Promise<void> {
    this.validateAttachment(list, rt);
    requireCommandAllowed(list.cniVersion, 'CHECK');
    if (list.disableCheck) return;
    const cached = await this.options.cache.read(this.key(list, rt));
    if (!cached?.result) {
      throw new CniError(
        ErrorCode.UnknownContainer,
        `no cached result for ${list.name}/${rt.containerId}/${rt.ifname}`,
        'CHECK needs a prior ADD of this attachment',
      );
    }
    for (const plugin of list.plugins) {
      const stdin = buildPluginConfig(list, plugin, cached.result, rt.capabilityArgs);
      await this.options.invoker.invoke(plugin.type, this.env('CHECK', rt), stdin);
    }
  }

  /**
   * Deletes every cached attachment not in `valid`, then (for 1.1.0 lists) asks each
   * plugin to collect what is left; keeps going after errors and reports them all.
   * Returns the attachments it deleted.
   */
  async gc(list: ConfList, valid: Attachment[]): Promise<AttachmentKey[]> {
    const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`));
    const errors: CniError[] = [];
    const removed: AttachmentKey[] = [];
    for (const entry of await this.options.cache.attachments(list.name)) {
      if (keep.has(`${entry.containerId}\n${entry.ifName}`)) continue;
      const rt: RuntimeConf = {
        containerId: entry.containerId,
        ifname: entry.ifName,
        netns: entry.netns ?? '',
        args: entry.cniArgs ?? [],
        capabilityArgs: entry.capabilityArgs ?? {},
      };
      try {
        await this.del(list, rt);
        removed.push(this.key(list, rt));
      } catch (error) {
        errors.push(asCniError(error));
      }
    }
    if (versionAllows(list.cniVersion, 'GC') && !list.disableGC) {
      const attachments = valid.map((a) => ({ containerID: a.containerID, ifname: a.ifname }));
      for (const plugin of list.plugins) {
        const stdin = {
          ...buildPluginConfig(list, plugin, undefined, {}),
          'cni.dev/valid-attachments': attachments,
          'cni.dev/attachments': attachments,
        };
        try {
          await this.options.invoker.invoke(plugin.type, this.env('GC'), stdin);
        } catch (error) {
          errors.push(asCniError(error));
        }
      }
    }
    const failure = joinErrors(errors, 'GC failed');
    if (failure) throw failure;
    return removed;
  }

  /** STATUS stops at the first plugin that is not ready, as libcni does. */
  async status(list: ConfList): Promise<void> {
    requireCommandAllowed(list.cniVersion, 'STATUS');
    for (const plugin of list.plugins) {
      await this.options.invoker.invoke(plugin.type, this.env('STATUS'), buildPluginConfig(list, plugin, undefined, {}));
    }
  }
}
