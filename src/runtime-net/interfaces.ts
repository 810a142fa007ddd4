// kata-network add-iface, del-iface, update-iface and list-ifaces for a running pod.
// An interface is a tap moved into the pod's vnet, or a pair (FreeBSD epair, Linux
// veth) whose host end stays on the host as `device`; either way its MAC, MTU and
// address are set from outside the pod. The record is written before the first host
// command ("adding"), so a crash leaves a trace that pod rm and gc follow.
import type { Host, InterfaceInfo } from '../hosts/host.js';
import type { PodContext } from '../pods/pods.js';
import { runtimeCidrs, type PodRecord, type RuntimeInterface } from '../pods/store.js';
import { Teardown } from '../util/teardown.js';
import { checkAddress, checkHwAddr, checkInterfaceName, checkInterfaceUpdate, checkNewInterface, RuntimeNetError, type Interface } from './contract.js';
import { lockedPod, networkOwner } from './resolve.js';

/** FreeBSD's ifhwioctl refuses an MTU below IF_MINMTU (sys/net/if.c, SIOCSIFMTU): 72, above the contract's 46. */
const FREEBSD_MIN_MTU = 72;

/** The input's addresses as the record keeps them (validated before: no null, the mask a number). */
function recordedAddresses(iface: Interface): RuntimeInterface['addresses'] {
  return iface.ipAddresses.filter((a) => a !== null).map((a) => ({ address: a.address, mask: String(Number(a.mask)) }));
}

function entryOf(iface: Interface, created: boolean): RuntimeInterface {
  const addresses = recordedAddresses(iface);
  return {
    device: iface.device.trim(),
    name: iface.name.trim(),
    linkType: iface.linkType === 'tap' ? 'tap' : 'pair',
    created,
    mtu: iface.mtu,
    hwAddr: checkHwAddr(iface.hwAddr),
    addresses,
    state: 'adding',
  };
}

/** The interface as add-iface and update-iface print it: what jailnet set, addresses with Family 2. */
export function interfaceOf(entry: RuntimeInterface): Interface {
  return {
    device: entry.device,
    name: entry.name,
    ipAddresses: entry.addresses.map((a) => ({ family: 2, ...a })),
    mtu: entry.mtu,
    rawFlags: 0,
    hwAddr: entry.hwAddr,
    pciAddr: '',
    linkType: entry.linkType === 'tap' ? 'tap' : 'epair',
    vhostUserSocket: '',
    queues: 0,
  };
}

async function plug(host: Host, jail: string, entry: RuntimeInterface): Promise<void> {
  if (entry.linkType === 'pair') {
    await host.plugEpair({ hostName: entry.device, mtu: entry.mtu, jail, podName: entry.name, podMac: entry.hwAddr });
  } else {
    if (entry.created) await host.createTap(undefined, entry.device);
    await host.moveToVnet(entry.device, jail);
    await host.renameInterface(entry.device, entry.name, jail);
    await host.setMtu(entry.name, entry.mtu, jail);
    await host.setMac(entry.name, entry.hwAddr, jail);
  }
  await host.configureInterface(entry.name, runtimeCidrs(entry), [], jail);
}

/**
 * Takes a runtime interface away wherever a crash may have left it: a pair by either end
 * (one destroys both), a tap jailnet made destroyed, a tap it found given back to the
 * host under its own name without the pod's address.
 */
export async function unplug(host: Host, jail: string, entry: RuntimeInterface): Promise<void> {
  const inPod = async (name: string) => (await host.inspectInterface(name, jail)) !== undefined;
  const onHost = async (name: string) => (await host.inspectInterface(name)) !== undefined;
  if (entry.linkType === 'pair') {
    if (await onHost(entry.device)) await host.destroyInterface(entry.device);
    else if (await inPod(entry.name)) await host.destroyInterface(entry.name, jail);
    return;
  }
  const current = (await inPod(entry.name)) ? entry.name : (await inPod(entry.device)) ? entry.device : undefined;
  if (current === undefined) {
    if (entry.created && (await onHost(entry.device))) await host.destroyInterface(entry.device);
    return;
  }
  if (entry.created) return host.destroyInterface(current, jail);
  for (const a of entry.addresses) await host.removeAddress(current, a.address, jail).catch(() => undefined);
  await host.moveFromVnet(current, jail);
  if (current !== entry.device) await host.renameInterface(current, entry.device);
}

/**
 * A host interface that must not be lent to a pod. The tap group alone cannot tell: a
 * tap given back by a vnet has lost its groups (freebsd-mechanics.md §2.2, observed on 15.1).
 */
function inUse(info: InterfaceInfo): boolean {
  const kinds = ['bridge', 'epair', 'veth', 'lo', 'vxlan'];
  const global6 = info.inet6.filter((a) => !a.address.toLowerCase().startsWith('fe80:'));
  return info.inet.length > 0 || global6.length > 0 || info.members.length > 0 || info.groups.some((g) => kinds.includes(g)) || info.flags.includes('LOOPBACK');
}

async function checkNames(ctx: PodContext, record: PodRecord, entry: Pick<RuntimeInterface, 'name' | 'device' | 'linkType'>): Promise<boolean> {
  if (record.runtime.interfaces.some((i) => i.name === entry.name) || (await ctx.host.inspectInterface(entry.name, record.jail))) {
    throw new RuntimeNetError(`interface ${entry.name} is already exist`);
  }
  const existing = await ctx.host.inspectInterface(entry.device);
  if (existing && entry.linkType === 'pair') throw new RuntimeNetError(`device ${entry.device} already exists on the host: a pair's host end is made by add-iface`);
  if (existing && inUse(existing)) throw new RuntimeNetError(`device ${entry.device} is in use on the host (an address, bridge membership, or not a tap): give a free tap`);
  return existing === undefined;
}

export async function addInterface(ctx: PodContext, id: string, iface: Interface): Promise<Interface> {
  checkNewInterface(iface);
  if (ctx.host.kind === 'freebsd' && iface.mtu < FREEBSD_MIN_MTU) throw new RuntimeNetError(`invalid input of MTU : ${iface.mtu} (FreeBSD's minimum is ${FREEBSD_MIN_MTU})`);
  return lockedPod(ctx, id, async (record) => {
    const created = await checkNames(ctx, record, { name: iface.name.trim(), device: iface.device.trim(), linkType: iface.linkType === 'tap' ? 'tap' : 'pair' });
    const entry = entryOf(iface, created);
    record.runtime.interfaces.push(entry);
    await ctx.store.write(record);
    try {
      await plug(ctx.host, record.jail, entry);
    } catch (failure) {
      const undo = new Teardown();
      await undo.step(`interface ${entry.name}`, () => unplug(ctx.host, record.jail, entry));
      // What could not be undone stays recorded ("adding"): pod rm and gc take it away.
      if (!undo.failed) record.runtime.interfaces = record.runtime.interfaces.filter((i) => i !== entry);
      await ctx.store.write(record);
      undo.finish(`add-iface ${entry.name}`, failure);
      throw failure;
    }
    entry.state = 'ready';
    await ctx.store.write(record);
    return interfaceOf(entry);
  });
}

/** del-iface: by name (or MAC, as openEuler matches); no match is not an error, as upstream's loop finds nothing. */
export async function deleteInterface(ctx: PodContext, id: string, iface: Interface): Promise<void> {
  const name = iface.name.trim();
  if (name === '' && iface.hwAddr === '') throw new RuntimeNetError('name of interface must be specified');
  if (name !== '') checkInterfaceName(name);
  await lockedPod(ctx, id, async (record) => {
    const mac = iface.hwAddr === '' ? undefined : checkHwAddr(iface.hwAddr);
    const entry = record.runtime.interfaces.find((i) => (name !== '' ? i.name === name : i.hwAddr === mac));
    if (!entry) return;
    await unplug(ctx.host, record.jail, entry);
    record.runtime.interfaces = record.runtime.interfaces.filter((i) => i !== entry);
    // The kernel took the routes through it away with it.
    record.runtime.routes = record.runtime.routes.filter((r) => r.device !== entry.name);
    await ctx.store.write(record);
  });
}

/** update-iface: the interface's one address replaced (none given: removed). */
export async function updateInterface(ctx: PodContext, id: string, iface: Interface): Promise<Interface> {
  checkInterfaceUpdate(iface);
  return lockedPod(ctx, id, async (record) => {
    const entry = record.runtime.interfaces.find((i) => i.name === iface.name.trim() && i.state === 'ready');
    if (!entry) throw new RuntimeNetError(`interface ${iface.name} is not found in pod ${record.name}`);
    const next = recordedAddresses(iface);
    const keep = (a: { address: string; mask: string }) => next.some((n) => n.address === a.address && n.mask === a.mask);
    for (const old of entry.addresses.filter((a) => !keep(a))) await ctx.host.removeAddress(entry.name, old.address, record.jail);
    entry.addresses = entry.addresses.filter(keep);
    await ctx.store.write(record);
    for (const added of next.filter((n) => !entry.addresses.some((a) => a.address === n.address))) {
      await ctx.host.addAddress(entry.name, checkAddress({ family: 0, ...added }), record.jail);
      entry.addresses.push(added);
      await ctx.store.write(record);
    }
    return interfaceOf(entry);
  });
}

/**
 * list-ifaces in the contract's compat mode: what was added through this API, and what
 * netmon saw someone else add to the pod (read from the host: only netmon's record says
 * it is there); null when there is neither.
 */
export async function listInterfaces(ctx: PodContext, id: string): Promise<Array<{ name: string; mac: string; ip: string[]; mtu: number }> | null> {
  const owner = await networkOwner(ctx, id);
  const ready = owner.runtime.interfaces.filter((i) => i.state === 'ready');
  const listed = ready.map((i) => ({ name: i.name, mac: i.hwAddr, ip: runtimeCidrs(i), mtu: i.mtu }));
  for (const name of owner.observed.interfaces) {
    const info = await ctx.host.inspectInterface(name, owner.jail);
    if (info) listed.push({ name, mac: info.mac ?? '', ip: [...info.inet, ...info.inet6].map((a) => `${a.address}/${a.prefixLength}`), mtu: info.mtu });
  }
  return listed.length === 0 ? null : listed;
}
