// The tuning plugin: per-vnet net.* sysctls, and mac, mtu, promisc on the pod interface.
// The sysctls an attachment set are recorded (before the first change, as every recording
// plugin does), so that repair and netmon put them back when something inside the pod
// changed them; the interface's settings are the link's and go with it.
import { z } from 'zod';
import { pickCniArgs } from '../cni/args.js';
import { CniError, ErrorCode } from '../cni/errors.js';
import { parseConfig } from '../cni/netconf.js';
import type { Result } from '../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../cni/skel.js';
import type { Host } from '../hosts/host.js';
import { isUnicastMac } from '../names.js';
import { JsonRecords } from '../util/json-records.js';
import { AttachmentBase, attachmentKey, baseRecord, recordsDir } from './attachment-record.js';
import { attachmentsDir, pluginHost, podInterfaceName, sandboxOf } from './host-for-plugin.js';
import { requirePrevResult } from './passthrough.js';
import { Rollback } from './rollback.js';

// Only keys of the network stack, which every vnet has its own copy of.
const SYSCTL_KEY = /^net\.[a-z0-9_]+(\.[a-z0-9_]+)+$/;

export const TuningConfSchema = z.looseObject({
  sysctl: z.record(z.string(), z.string()).optional(),
  mac: z.string().optional(),
  mtu: z.number().int().min(72).max(65535).optional(),
  promisc: z.boolean().optional(),
  allmulti: z.boolean().optional(),
  runtimeConfig: z.looseObject({ mac: z.string().optional() }).optional(),
  args: z.looseObject({ cni: z.looseObject({ mac: z.string().optional() }).optional() }).optional(),
});

const TuningRecordSchema = AttachmentBase.extend({
  /** The sandbox as the host interface spells it (sandboxOf), where the sysctls are read and set. */
  jail: z.string(),
  sysctl: z.record(z.string(), z.string()),
});

export type TuningRecord = z.infer<typeof TuningRecordSchema>;

const recordsIn = (dir: string) => new JsonRecords(recordsDir(dir, 'tuning'), TuningRecordSchema);

/** Every tuning record, for the desired state of repair (repair/desired.ts). */
export async function tuningRecords(dir: string): Promise<TuningRecord[]> {
  return recordsIn(dir).all();
}

function loadConf(request: PluginRequest) {
  podInterfaceName(request);
  const conf = parseConfig(TuningConfSchema, request.config);
  if (conf.allmulti !== undefined) {
    throw new CniError(ErrorCode.UnsupportedField, 'unsupported field "allmulti"', 'FreeBSD sets ALLMULTI itself; ifconfig(8) cannot');
  }
  for (const [key, value] of Object.entries(conf.sysctl ?? {})) {
    if (!SYSCTL_KEY.test(key)) {
      throw new CniError(ErrorCode.InvalidConfig, `sysctl "${key}" is refused`, 'only net.* keys, which are per vnet, can be tuned for a pod');
    }
    if (!/^-?\d+$/.test(value)) throw new CniError(ErrorCode.InvalidConfig, `sysctl "${key}" needs an integer value, got "${value}"`);
  }
  const { MAC: fromEnv } = pickCniArgs(request.args, ['MAC', 'IP', 'K8S_POD_NAME', 'K8S_POD_NAMESPACE', 'K8S_POD_INFRA_CONTAINER_ID', 'K8S_POD_UID']);
  const mac = conf.runtimeConfig?.mac ?? conf.args?.cni?.mac ?? fromEnv ?? conf.mac;
  if (mac !== undefined && !isUnicastMac(mac)) throw new CniError(ErrorCode.InvalidConfig, `invalid MAC address "${mac}"`, 'a unicast address is needed: not zero, broadcast or multicast');
  return { sysctl: conf.sysctl ?? {}, mac: mac?.toLowerCase(), mtu: conf.mtu, promisc: conf.promisc };
}

type TuningConf = ReturnType<typeof loadConf>;

function changesNothing(conf: TuningConf): boolean {
  return Object.keys(conf.sysctl).length === 0 && conf.mtu === undefined && conf.promisc === undefined && conf.mac === undefined;
}

/** Each change with its undo, from what is there now: read first, so a bad key fails before anything changed. */
async function applyAll(host: Host, rollback: Rollback, conf: TuningConf, ifname: string, jail: string): Promise<void> {
  const before: Array<[string, string]> = [];
  for (const key of Object.keys(conf.sysctl)) before.push([key, await host.sysctlGet(key, jail)]);
  const info = await host.inspectInterface(ifname, jail);
  if (!info) throw new CniError(ErrorCode.UnknownContainer, `interface ${ifname} is missing in ${jail}`);
  for (const [key, previous] of before) {
    await rollback.step(`sysctl ${key}`, () => host.sysctlSet(key, conf.sysctl[key] as string, jail), () => host.sysctlSet(key, previous, jail));
  }
  if (conf.mtu !== undefined) await rollback.step('mtu', () => host.setMtu(ifname, conf.mtu as number, jail), () => host.setMtu(ifname, info.mtu, jail));
  const promisc = info.flags.includes('PROMISC');
  if (conf.promisc !== undefined) await rollback.step('promisc', () => host.setPromisc(ifname, conf.promisc as boolean, jail), () => host.setPromisc(ifname, promisc, jail));
  if (conf.mac !== undefined && info.mac) {
    const mac = info.mac;
    await rollback.step('mac', () => host.setMac(ifname, conf.mac as string, jail), () => host.setMac(ifname, mac, jail));
  }
}

async function add(request: PluginRequest): Promise<Result> {
  const prev = requirePrevResult(request, 'tuning');
  const conf = loadConf(request);
  const host = pluginHost();
  const jail = sandboxOf(host, request.netns);
  if (changesNothing(conf)) return prev;
  const records = recordsIn(await attachmentsDir());
  const id = attachmentKey(request.config.name as string, request.containerId, request.ifname);
  if (Object.keys(conf.sysctl).length > 0) await records.write(id, { ...baseRecord(request), jail, sysctl: conf.sysctl });
  try {
    await Rollback.run((rollback) => applyAll(host, rollback, conf, request.ifname, jail));
  } catch (error) {
    await records.remove(id);
    throw error;
  }
  if (conf.mac === undefined) return prev;
  const interfaces = prev.interfaces.map((i) => (i.name === request.ifname && i.sandbox === jail ? { ...i, mac: conf.mac } : i));
  return { ...prev, interfaces };
}

async function check(request: PluginRequest): Promise<void> {
  const conf = loadConf(request);
  const host = pluginHost();
  const jail = sandboxOf(host, request.netns);
  for (const [key, value] of Object.entries(conf.sysctl)) {
    const actual = await host.sysctlGet(key, jail);
    if (actual !== value) throw new CniError(ErrorCode.CheckFailed, `sysctl ${key} is ${actual} in ${jail}, not ${value}`);
  }
  const info = await host.inspectInterface(request.ifname, jail);
  if (!info) throw new CniError(ErrorCode.CheckFailed, `interface ${request.ifname} is missing in ${jail}`);
  if (conf.mtu !== undefined && info.mtu !== conf.mtu) throw new CniError(ErrorCode.CheckFailed, `mtu of ${request.ifname} is ${info.mtu}, not ${conf.mtu}`);
  if (conf.mac !== undefined && info.mac !== conf.mac) throw new CniError(ErrorCode.CheckFailed, `MAC of ${request.ifname} is ${info.mac}, not ${conf.mac}`);
  if (conf.promisc !== undefined && info.flags.includes('PROMISC') !== conf.promisc) {
    throw new CniError(ErrorCode.CheckFailed, `PROMISC on ${request.ifname} is not ${conf.promisc}`);
  }
}

// The pod's interface and its vnet sysctls go away with the pod: DEL and GC forget the records only.
async function del(request: PluginRequest): Promise<void> {
  loadConf(request);
  await recordsIn(await attachmentsDir()).remove(attachmentKey(request.config.name as string, request.containerId, request.ifname));
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
  loadConf(request);
  const network = request.config.name as string;
  const keep = new Set(valid.map((a) => attachmentKey(network, a.containerID, a.ifname)));
  const records = recordsIn(await attachmentsDir());
  for (const [id, record] of await records.entries()) if (record.network === network && !keep.has(id)) await records.remove(id);
}

const status = async (): Promise<void> => undefined;

export const tuning: Plugin = { add, del, check, gc, status };
