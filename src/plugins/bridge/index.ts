// The bridge plugin on FreeBSD: an epair per attachment, one end on an if_bridge on the
// host, the other moved into the pod's vnet jail and renamed; addresses from IPAM,
// the gateway on the bridge, masquerading for ipMasq. The attachment is recorded before
// the first change, and every ADD step is undone on failure.
import { ipamAdd, ipamRun } from '../../cni/delegate.js';
import { loadHostLocalConfig, type HostLocalConfig } from '../../ipam/config.js';
import { formatIP, prefixContains } from '../../ipam/ip.js';
import { CniError, ErrorCode } from '../../cni/errors.js';
import type { Interface, Result } from '../../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../../cni/skel.js';
import { InterfaceNameTakenError, type Host, type InterfaceInfo, type PluggedEpair } from '../../hosts/host.js';
import { attachmentKey, baseRecord, bridgeRecords, type AttachmentRecord } from '../attachment-record.js';
import { attachmentsDir, pluginHost, podInterfaceName, sandboxOf } from '../host-for-plugin.js';
import { Rollback } from '../rollback.js';
import { hostInterfaceDescription, hostInterfaceName } from '../../persistent-names.js';
import { loadBridgeConf, type BridgeConf } from './config.js';
import { planAttachment, type AttachmentPlan } from './plan.js';
import { enableForwarding, readyBridge, requireBridge } from './setup.js';

async function requireSandbox(host: Host, vnet: string): Promise<void> {
  const state = await host.sandboxState(vnet);
  const what = host.sandboxNoun;
  if (state === 'missing') throw new CniError(ErrorCode.UnknownContainer, `${what} "${vnet}" not found`);
  if (state === 'shared') throw new CniError(ErrorCode.InvalidEnvironment, `${what} "${vnet}" has no network stack of its own`);
}

/**
 * With isGateway the gateway goes on the bridge with its subnet's prefix: one outside the
 * subnet would give the bridge an address of another network (host-local itself, like
 * the reference, accepts it, for setups without a bridge).
 */
function checkGateways(conf: BridgeConf, ipam: HostLocalConfig): void {
  if (!conf.isGateway) return;
  for (const range of ipam.rangeSets.flat()) {
    if (!prefixContains(range.subnet, range.gateway)) {
      throw new CniError(ErrorCode.InvalidConfig, `gateway ${formatIP(range.gateway)} is not inside ${formatIP(range.subnet.ip)}/${range.subnet.bits}`, 'a bridge with isGateway carries the gateway address');
    }
  }
}

/**
 * Everything ADD checks before its first change; returns the bridge as it is now. A taken
 * host interface name is found by the plug failing, and looked for here only where this
 * attachment's record is left from an earlier ADD: its interface must not be taken over.
 */
async function preflight(host: Host, request: PluginRequest, conf: BridgeConf, jail: string, hostName: string, leftOver: boolean): Promise<InterfaceInfo | undefined> {
  // jailnet's own host-local is checked here too: a bad ipam section must not cost a lease file.
  if (conf.ipam?.type === 'host-local') checkGateways(conf, loadHostLocalConfig(request.config, request.args));
  await requireSandbox(host, jail);
  if (leftOver && (await host.inspectInterface(hostName))) throw hostNameTaken(hostName);
  const bridge = await host.inspectInterface(conf.bridge);
  if (bridge) requireBridge(bridge, conf);
  return bridge;
}

const hostNameTaken = (hostName: string) => new CniError(ErrorCode.HostInterfaceTaken, `host interface ${hostName} already exists`, 'an earlier attachment of this container was not deleted');

/** The epair, its host end on the bridge, its other end in the jail as CNI_IFNAME; the MACs the host knows without a read. */
async function plugEpair(host: Host, rollback: Rollback, request: PluginRequest, conf: BridgeConf, jail: string, hostName: string, mtu: number): Promise<PluggedEpair> {
  const description = hostInterfaceDescription(jail, request.ifname, request.config.name as string);
  const plug = { hostName, description, mtu, bridge: conf.bridge, hairpin: conf.hairpinMode, jail, podName: request.ifname, podMac: conf.mac };
  // Named, described and sized in the creating command: a crash never leaves a pair DEL cannot find.
  return rollback.step('epair', () => host.plugEpair(plug).catch((error: unknown) => {
    if (!(error instanceof InterfaceNameTakenError)) throw error;
    if (error.vnet === undefined) throw hostNameTaken(hostName);
    throw new CniError(ErrorCode.InterfaceExists, `container interface ${request.ifname} already exists in jail ${jail}`);
  }), () => host.destroyInterface(hostName));
}

/** The pod's addresses masqueraded; a packet filter that is not there is said so (looked at only then). */
async function masquerade(host: Host, addresses: string[]): Promise<void> {
  try {
    await host.filter.masquerade(addresses);
  } catch (error) {
    if (!(await host.filter.available().catch(() => false))) {
      throw new CniError(ErrorCode.HostNotReady, 'the packet filter must be available for ipMasq networks', 'jailnet status says how to make it so');
    }
    throw error;
  }
}

/** Addresses, link and routes of the interface inside the jail. */
async function configurePodSide(host: Host, request: PluginRequest, jail: string, plan: AttachmentPlan): Promise<void> {
  const routes = plan.routes.map((route) => ({ destination: route.dst, gateway: route.gw as string }));
  await host.configureInterface(request.ifname, plan.containerAddresses, routes, jail);
}

async function resultOf(host: Host, request: PluginRequest, conf: BridgeConf, bridge: InterfaceInfo, jail: string, hostName: string, plan: AttachmentPlan, ipam: Result, plugged: PluggedEpair): Promise<Result> {
  const podMac = plugged.podMac ?? (await host.inspectInterface(request.ifname, jail))?.mac;
  // The host end's address follows from the pod end's on FreeBSD, unless `mac` replaced that one.
  const hostMac = plugged.hostMac ?? (podMac && !conf.mac ? host.epairPeerMac(podMac) : undefined) ?? (await host.inspectInterface(hostName))?.mac;
  const interfaces: Interface[] = [
    { name: bridge.name, mac: bridge.mac },
    { name: hostName, mac: hostMac },
    { name: request.ifname, mac: podMac, sandbox: jail },
  ];
  const dns = ipam.dns && Object.keys(ipam.dns).length > 0 ? ipam.dns : ((request.config.dns as Result['dns']) ?? {});
  return { interfaces, ips: plan.ips, routes: plan.routes.map((r) => ({ ...r })), dns };
}

async function add(request: PluginRequest): Promise<Result> {
  podInterfaceName(request);
  const conf = loadBridgeConf(request);
  const host = pluginHost();
  const jail = sandboxOf(host, request.netns);
  const network = request.config.name as string;
  const hostName = hostInterfaceName(network, request.containerId, request.ifname);
  const records = bridgeRecords(await attachmentsDir());
  const id = attachmentKey(network, request.containerId, request.ifname);
  const seen = await preflight(host, request, conf, jail, hostName, await records.exists(id));

  return Rollback.run(async (rollback) => {
    // Recorded before the lease and any host change, so gc after a crash knows what to take away.
    const record: AttachmentRecord = { ...baseRecord(request), jail, bridge: conf.bridge, hostInterface: hostName, addresses: [], ipMasq: conf.ipMasq };
    await rollback.step('record', () => records.write(id, record), () => records.remove(id));
    const ipam = await rollback.step('IPAM lease', () => ipamAdd(request), () => ipamRun('DEL', request));
    if (ipam.ips.length === 0) throw new CniError(ErrorCode.InvalidConfig, 'IPAM returned no address');
    const plan = planAttachment(conf, ipam);
    record.addresses = plan.containerAddresses.map((a) => a.split('/')[0] as string);
    await records.write(id, record);

    const bridge = await readyBridge(host, rollback, conf, plan, seen);
    await enableForwarding(host, plan);
    // The epair takes the bridge's MTU (FreeBSD 14 refuses a member of another MTU).
    const plugged = await plugEpair(host, rollback, request, conf, jail, hostName, conf.mtu || bridge.mtu);
    if (plan.masqueraded.length > 0) {
      await rollback.step('masquerade', () => masquerade(host, plan.masqueraded), () => host.filter.unmasquerade(plan.masqueraded));
    }
    await configurePodSide(host, request, jail, plan);
    return resultOf(host, request, conf, bridge, jail, hostName, plan, ipam, plugged);
  });
}

/** Takes an attachment's host state away; each part is attempted even if another fails. */
export async function teardown(host: Host, hostInterface: string, masqueraded: string[], errors: string[]): Promise<void> {
  try {
    // Destroying the host end destroys the jail end too, wherever it is. No look first: a
    // failed destroy is checked instead (a second DEL, or two at once from podman's rm and
    // its cleanup, finds it gone, and gone is gone).
    await host.destroyInterface(hostInterface);
  } catch (error) {
    if (await host.inspectInterface(hostInterface).catch(() => true)) errors.push((error as Error).message);
  }
  try {
    await host.filter.unmasquerade(masqueraded);
  } catch (error) {
    // A concurrent DEL of the same attachment may have taken the addresses first.
    const left = await host.filter.masqueraded().catch(() => masqueraded);
    if (masqueraded.some((a) => left.includes(a))) errors.push((error as Error).message);
  }
}

async function del(request: PluginRequest): Promise<void> {
  podInterfaceName(request);
  const conf = loadBridgeConf(request);
  const network = request.config.name as string;
  const records = bridgeRecords(await attachmentsDir());
  const id = attachmentKey(network, request.containerId, request.ifname);
  const record = await records.read(id);
  const host = pluginHost();
  // IPAM first, as the reference bridge does: a config IPAM refuses fails the DEL before anything changed.
  if (conf.ipam) await ipamRun('DEL', request);
  const errors: string[] = [];
  const fromResult = (request.prevResult?.ips ?? []).map((ip) => ip.address.split('/')[0] as string);
  const masqueraded = conf.ipMasq || record?.ipMasq ? [...new Set([...fromResult, ...(record?.addresses ?? [])])] : [];
  await teardown(host, record?.hostInterface ?? hostInterfaceName(network, request.containerId, request.ifname), masqueraded, errors);
  if (errors.length > 0) throw new CniError(ErrorCode.HostCommandFailed, 'bridge DEL could not finish', errors.join('; '));
  await records.remove(id);
}

async function check(request: PluginRequest): Promise<void> {
  podInterfaceName(request);
  const conf = loadBridgeConf(request);
  const prev = request.prevResult;
  if (!prev) throw new CniError(ErrorCode.InvalidConfig, 'CHECK needs a prevResult');
  const host = pluginHost();
  const jail = sandboxOf(host, request.netns);
  const fail = (msg: string): never => {
    throw new CniError(ErrorCode.CheckFailed, msg);
  };
  const pod = prev.interfaces.find((i) => i.name === request.ifname && i.sandbox !== undefined);
  if (!pod) fail(`prevResult has no interface ${request.ifname} in a sandbox`);
  if (pod!.sandbox !== jail) fail(`interface ${request.ifname} belongs to ${pod!.sandbox}, not ${jail}`);
  const inside = await host.inspectInterface(request.ifname, jail);
  if (!inside) fail(`interface ${request.ifname} is missing in jail ${jail}`);
  if (!inside!.up) fail(`interface ${request.ifname} in jail ${jail} is down`);
  const have = [...inside!.inet, ...inside!.inet6].map((a) => `${a.address}/${a.prefixLength}`);
  for (const ip of prev.ips) if (!have.includes(ip.address)) fail(`address ${ip.address} is missing on ${request.ifname} in ${jail}`);
  const routes = await host.listRoutes(jail);
  for (const route of prev.routes) {
    const dst = route.dst === '0.0.0.0/0' || route.dst === '::/0' ? 'default' : route.dst;
    if (!routes.some((r) => r.destination === dst && (!route.gw || r.gateway === route.gw))) fail(`route ${route.dst} is missing in ${jail}`);
  }
  const hostName = hostInterfaceName(request.config.name as string, request.containerId, request.ifname);
  const bridge = await host.inspectInterface(conf.bridge);
  if (!bridge?.members.includes(hostName)) fail(`host interface ${hostName} is not a member of ${conf.bridge}`);
  if (conf.ipMasq) {
    const masqueraded = await host.filter.masqueraded();
    for (const ip of prev.ips) {
      const address = ip.address.split('/')[0] as string;
      if (!masqueraded.includes(address)) fail(`${address} is not masqueraded`);
    }
  }
  await ipamRun('CHECK', request);
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
  loadBridgeConf(request);
  const network = request.config.name as string;
  const keep = new Set(valid.map((a) => `${a.containerID}\n${a.ifname}`));
  const records = bridgeRecords(await attachmentsDir());
  const host = pluginHost();
  const errors: string[] = [];
  for (const record of (await records.all()).filter((r) => r.network === network)) {
    if (keep.has(`${record.containerId}\n${record.ifname}`)) continue;
    const before = errors.length;
    await teardown(host, record.hostInterface, record.ipMasq ? record.addresses : [], errors);
    if (errors.length === before) await records.remove(attachmentKey(network, record.containerId, record.ifname));
  }
  try {
    await ipamRun('GC', request);
  } catch (error) {
    errors.push((error as Error).message);
  }
  if (errors.length > 0) throw new CniError(ErrorCode.HostCommandFailed, 'bridge GC could not finish', errors.join('; '));
}

async function status(request: PluginRequest): Promise<void> {
  const conf = loadBridgeConf(request);
  const host = pluginHost();
  if (conf.ipMasq && !(await host.filter.available())) {
    throw new CniError(ErrorCode.NotAvailable, 'the packet filter is not available', 'ipMasq needs it; jailnet status says how to make it so');
  }
  await ipamRun('STATUS', request);
}

export const bridge: Plugin = { add, del, check, gc, status };
