// The bridge plugin on FreeBSD: an epair per attachment, one end on an if_bridge on the
// host, the other moved into the pod's vnet jail and renamed; addresses from IPAM,
// the gateway on the bridge, <cni-nat> for ipMasq. Every ADD step is undone on failure.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ipamAdd, ipamRun } from '../../cni/delegate.js';
import { withLock } from '../../util/file-lock.js';
import { CniError, ErrorCode } from '../../cni/errors.js';
import type { Interface, Result } from '../../cni/result.js';
import type { Attachment, Plugin, PluginRequest } from '../../cni/skel.js';
import type { Host, InterfaceInfo } from '../../hosts/host.js';
import { attachmentKey, bridgeRecords, type AttachmentRecord } from '../attachment-record.js';
import { attachmentsDir, pluginHost, sandboxOf } from '../host-for-plugin.js';
import { Rollback } from '../rollback.js';
import { hostInterfaceDescription, hostInterfaceName, loadBridgeConf, type BridgeConf } from './config.js';
import { planAttachment, type AttachmentPlan } from './plan.js';

const NAT_TABLE = 'cni-nat';

function family(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

async function bridgeLock(bridge: string): Promise<string> {
  const dir = path.join(await attachmentsDir(), 'locks');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, `bridge-${bridge}`);
}

async function requireSandbox(host: Host, vnet: string): Promise<void> {
  const state = await host.sandboxState(vnet);
  const what = host.kind === 'freebsd' ? 'jail' : 'network namespace';
  if (state === 'missing') throw new CniError(ErrorCode.UnknownContainer, `${what} "${vnet}" not found`);
  if (state === 'shared') throw new CniError(ErrorCode.InvalidEnvironment, `${what} "${vnet}" has no network stack of its own`);
}

async function ensureBridge(host: Host, rollback: Rollback, conf: BridgeConf): Promise<InterfaceInfo> {
  const existing = await host.inspectInterface(conf.bridge);
  if (existing) return existing;
  await rollback.step(`bridge ${conf.bridge}`, () => host.createBridge(conf.bridge), () => host.destroyInterface(conf.bridge));
  const created = await host.inspectInterface(conf.bridge);
  if (!created) throw new CniError(ErrorCode.HostCommandFailed, `bridge ${conf.bridge} was not created`);
  return created;
}

/** The MTU the epair needs: the configured one, else the bridge's once it has members (FreeBSD 14 refuses a mismatch). */
async function epairMtu(host: Host, rollback: Rollback, conf: BridgeConf, bridge: InterfaceInfo): Promise<number | undefined> {
  if (conf.mtu === 0) return bridge.members.length > 0 ? bridge.mtu : undefined;
  if (bridge.members.length > 0 && bridge.mtu !== conf.mtu) {
    throw new CniError(ErrorCode.InvalidConfig, `bridge ${conf.bridge} has mtu ${bridge.mtu} and members; this network asks for ${conf.mtu}`);
  }
  if (bridge.mtu !== conf.mtu) {
    const previous = bridge.mtu;
    await rollback.step('bridge mtu', () => host.setMtu(conf.bridge, conf.mtu), () => host.setMtu(conf.bridge, previous));
  }
  return conf.mtu;
}

async function gatewayOnBridge(host: Host, rollback: Rollback, conf: BridgeConf, plan: AttachmentPlan): Promise<void> {
  if (plan.gatewayAddresses.length === 0) return;
  const bridge = await host.inspectInterface(conf.bridge);
  const present = [...(bridge?.inet ?? []), ...(bridge?.inet6 ?? [])].map((a) => `${a.address}/${a.prefixLength}`);
  for (const gateway of plan.gatewayAddresses) {
    if (present.includes(gateway)) continue;
    const other = family(gateway) === 4 ? bridge?.inet[0] : undefined;
    if (other) {
      const old = `${other.address}/${other.prefixLength}`;
      if (!conf.forceAddress) {
        throw new CniError(ErrorCode.InvalidConfig, `bridge ${conf.bridge} already has address ${old}`, `set forceAddress to replace it with ${gateway}`);
      }
      await rollback.step(`remove ${old}`, () => host.removeAddress(conf.bridge, old), () => host.addAddress(conf.bridge, old));
    }
    await rollback.step(`gateway ${gateway}`, () => host.addAddress(conf.bridge, gateway), () => host.removeAddress(conf.bridge, gateway));
  }
  if (!bridge?.up) await host.setUp(conf.bridge, true);
  for (const fam of plan.forwarding) {
    const key = fam === 4 ? 'net.inet.ip.forwarding' : 'net.inet6.ip6.forwarding';
    if ((await host.sysctlGet(key)) !== '1') await host.sysctlSet(key, '1');
  }
}

async function add(request: PluginRequest): Promise<Result> {
  const conf = loadBridgeConf(request);
  const host = pluginHost();
  const jail = sandboxOf(host, request.netns);
  const network = request.config.name as string;
  await requireSandbox(host, jail);
  if (conf.ipMasq && !(await host.isModuleLoaded('pf'))) {
    throw new CniError(ErrorCode.HostNotReady, 'the pf kernel module must be loaded for ipMasq networks', 'kldload pf, or set pf_enable="YES" in rc.conf');
  }
  if ((await host.listInterfaces(jail)).includes(request.ifname)) {
    throw new CniError(ErrorCode.InterfaceExists, `container interface ${request.ifname} already exists in jail ${jail}`);
  }
  const hostName = hostInterfaceName(network, request.containerId, request.ifname);
  if (await host.inspectInterface(hostName)) {
    throw new CniError(ErrorCode.HostInterfaceTaken, `host interface ${hostName} already exists`, 'an earlier attachment of this container was not deleted');
  }
  const records = bridgeRecords(await attachmentsDir());
  const id = attachmentKey(network, request.containerId, request.ifname);

  return Rollback.run(async (rollback) => {
    const ipam = await rollback.step('IPAM lease', () => ipamAdd(request), () => ipamRun('DEL', request));
    if (ipam.ips.length === 0) throw new CniError(ErrorCode.InvalidConfig, 'IPAM returned no address');
    const plan = planAttachment(conf, ipam);
    // Recorded before any host change, so GC after a crash knows what to take away.
    const record: AttachmentRecord = {
      network,
      containerId: request.containerId,
      ifname: request.ifname,
      jail,
      bridge: conf.bridge,
      hostInterface: hostName,
      addresses: plan.containerAddresses.map((a) => a.split('/')[0] as string),
      ipMasq: conf.ipMasq,
    };
    await rollback.step('record', () => records.write(id, record), () => records.remove(id));
    let hostEnd = '';
    // Pods of one network are set up in parallel: the bridge, its MTU and its gateway
    // address are created once, by whichever ADD comes first.
    await withLock(await bridgeLock(conf.bridge), async () => {
      const bridge = await ensureBridge(host, rollback, conf);
      if (conf.promiscMode) await host.setPromisc(conf.bridge, true);
      const mtu = await epairMtu(host, rollback, conf, bridge);

      // The description comes with the create: a crash never leaves an unmarked pair.
      const description = hostInterfaceDescription(jail, request.ifname, network);
      const pair = await rollback.step('epair', () => host.createEpair({ description, mtu }), () => host.destroyInterface(hostEnd));
      hostEnd = pair.a;
      await host.renameInterface(pair.a, hostName);
      hostEnd = hostName;
      if (mtu !== undefined) await host.setMtu(pair.b, mtu);
      if (conf.mac) await host.setMac(pair.b, conf.mac);
      await host.addBridgeMember(conf.bridge, hostName, { hairpin: conf.hairpinMode });
      await host.setUp(hostName, true);
      await host.moveToVnet(pair.b, jail);
      await host.renameInterface(pair.b, request.ifname, jail);

      await gatewayOnBridge(host, rollback, conf, plan);
    });
    if (plan.masqueraded.length > 0) {
      await rollback.step('cni-nat', () => host.tableAdd(NAT_TABLE, plan.masqueraded), () => host.tableDelete(NAT_TABLE, plan.masqueraded));
    }
    for (const address of plan.containerAddresses) await host.addAddress(request.ifname, address, jail);
    await host.setUp(request.ifname, true, jail);
    for (const route of plan.routes) {
      const dst = route.dst === '0.0.0.0/0' || route.dst === '::/0' ? 'default' : route.dst;
      await host.addRoute(dst, route.gw as string, jail);
    }

    const [bridgeInfo, hostInfo, podInfo] = await Promise.all([
      host.inspectInterface(conf.bridge),
      host.inspectInterface(hostName),
      host.inspectInterface(request.ifname, jail),
    ]);
    const interfaces: Interface[] = [
      { name: conf.bridge, mac: bridgeInfo?.mac },
      { name: hostName, mac: hostInfo?.mac },
      { name: request.ifname, mac: podInfo?.mac, sandbox: jail },
    ];
    const dns = ipam.dns && Object.keys(ipam.dns).length > 0 ? ipam.dns : ((request.config.dns as Result['dns']) ?? {});
    return { interfaces, ips: plan.ips, routes: plan.routes.map((r) => ({ ...r })), dns };
  });
}

/** Takes an attachment's host state away; each part is attempted even if another fails. */
async function teardown(host: Host, hostInterface: string, masqueraded: string[], errors: string[]): Promise<void> {
  try {
    // Destroying the host end destroys the jail end too, wherever it is.
    if (await host.inspectInterface(hostInterface)) await host.destroyInterface(hostInterface);
  } catch (error) {
    // A runtime may run two DELs of one attachment at once (podman's rm and its cleanup): gone is gone.
    if (await host.inspectInterface(hostInterface).catch(() => true)) errors.push((error as Error).message);
  }
  if (masqueraded.length > 0) {
    const ours = async () => {
      const present = await host.tableShow(NAT_TABLE);
      return masqueraded.filter((a) => present.includes(a));
    };
    try {
      const present = await ours();
      if (present.length > 0) await host.tableDelete(NAT_TABLE, present);
    } catch (error) {
      if ((await ours().catch(() => masqueraded)).length > 0) errors.push((error as Error).message);
    }
  }
}

async function del(request: PluginRequest): Promise<void> {
  const conf = loadBridgeConf(request);
  const network = request.config.name as string;
  const records = bridgeRecords(await attachmentsDir());
  const id = attachmentKey(network, request.containerId, request.ifname);
  const record = await records.read(id);
  const errors: string[] = [];
  const host = pluginHost();
  const fromResult = (request.prevResult?.ips ?? []).map((ip) => ip.address.split('/')[0] as string);
  const masqueraded = conf.ipMasq || record?.ipMasq ? [...new Set([...fromResult, ...(record?.addresses ?? [])])] : [];
  const hostInterface = record?.hostInterface ?? hostInterfaceName(network, request.containerId, request.ifname);
  await teardown(host, hostInterface, masqueraded, errors);
  try {
    await ipamRun('DEL', request);
  } catch (error) {
    errors.push((error as Error).message);
  }
  if (errors.length > 0) throw new CniError(ErrorCode.HostCommandFailed, 'bridge DEL could not finish', errors.join('; '));
  await records.remove(id);
}

async function check(request: PluginRequest): Promise<void> {
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
    const table = await host.tableShow(NAT_TABLE);
    for (const ip of prev.ips) {
      const address = ip.address.split('/')[0] as string;
      if (!table.includes(address)) fail(`${address} is missing from <${NAT_TABLE}>`);
    }
  }
  await ipamRun('CHECK', request);
}

async function gc(request: PluginRequest, valid: Attachment[]): Promise<void> {
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
  if (conf.ipMasq && !(await host.isModuleLoaded('pf'))) {
    throw new CniError(ErrorCode.NotAvailable, 'the pf kernel module is not loaded', 'ipMasq needs it');
  }
  if (!(await host.isModuleLoaded('if_bridge')) || !(await host.isModuleLoaded('if_epair'))) {
    // ifconfig loads cloners on demand, so this is only a warning-level condition.
    process.stderr.write('jailnet bridge: if_bridge or if_epair is not loaded yet; ifconfig will load it\n');
  }
  await ipamRun('STATUS', request);
}

export const bridge: Plugin = { add, del, check, gc, status };
