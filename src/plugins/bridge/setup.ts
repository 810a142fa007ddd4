// The bridge itself, shared by every attachment of a network: created, given its MTU
// and gateway addresses and brought up by whichever ADD comes first. Only that needs
// to be serial: when the bridge is already as the network wants it, an ADD reads it
// once and takes no lock, so a hundred ADDs on one network run side by side.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CniError, ErrorCode } from '../../cni/errors.js';
import type { Host, InterfaceInfo } from '../../hosts/host.js';
import { familyOf } from '../../ipam/ip.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitBudget } from '../../util/deadline.js';
import { DEFAULT_LOCK_WAIT_MS, lockHeld, LockTimeoutError, tryLock, withLock } from '../../util/file-lock.js';
import { bridgeRecords } from '../attachment-record.js';
import { attachmentsDir } from '../host-for-plugin.js';
import type { Rollback } from '../rollback.js';
import type { BridgeConf } from './config.js';
import type { AttachmentPlan } from './plan.js';

async function bridgeLock(bridge: string, attachments?: string): Promise<string> {
  const dir = path.join(attachments ?? (await attachmentsDir()), 'locks');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  return path.join(dir, `bridge-${bridge}`);
}

function addressesOf(info: InterfaceInfo): string[] {
  return [...info.inet, ...info.inet6].map((a) => `${a.address}/${a.prefixLength}`);
}

/** Whether the bridge already is what this attachment needs of it. */
function bridgeReady(info: InterfaceInfo, conf: BridgeConf, plan: AttachmentPlan): boolean {
  if (conf.mtu !== 0 && info.mtu !== conf.mtu) return false;
  if (conf.promiscMode && !info.flags.includes('PROMISC')) return false;
  if (plan.gatewayAddresses.length > 0 && !info.up) return false;
  const present = addressesOf(info);
  return plan.gatewayAddresses.every((g) => present.includes(g));
}

/**
 * `known`: the bridge as read under the lock, or undefined where it was last seen absent (then
 * it is created at once, and a creation that finds it made meanwhile reads it).
 */
async function ensureBridge(host: Host, rollback: Rollback, conf: BridgeConf, known: InterfaceInfo | undefined): Promise<InterfaceInfo> {
  if (known) return known;
  try {
    await rollback.step(`bridge ${conf.bridge}`, () => host.createBridge(conf.bridge), () => host.destroyInterface(conf.bridge));
  } catch (error) {
    // Made meanwhile: by an ADD that held the lock after this one looked, or by someone who takes none.
    const found = await host.inspectInterface(conf.bridge);
    if (!found) throw error;
    return found;
  }
  const created = await host.inspectInterface(conf.bridge);
  if (!created) throw new CniError(ErrorCode.HostCommandFailed, `bridge ${conf.bridge} was not created`);
  return created;
}

/** The bridge MTU the network asks for, set while the bridge has no members (FreeBSD 14 refuses a mismatch). */
async function bridgeMtu(host: Host, rollback: Rollback, conf: BridgeConf, bridge: InterfaceInfo): Promise<void> {
  if (conf.mtu === 0 || bridge.mtu === conf.mtu) return;
  if (bridge.members.length > 0) {
    throw new CniError(ErrorCode.InvalidConfig, `bridge ${conf.bridge} has mtu ${bridge.mtu} and members; this network asks for ${conf.mtu}`);
  }
  const previous = bridge.mtu;
  await rollback.step('bridge mtu', () => host.setMtu(conf.bridge, conf.mtu), () => host.setMtu(conf.bridge, previous));
}

async function gatewayOnBridge(host: Host, rollback: Rollback, conf: BridgeConf, plan: AttachmentPlan, bridge: InterfaceInfo): Promise<void> {
  const present = addressesOf(bridge);
  for (const gateway of plan.gatewayAddresses) {
    if (present.includes(gateway)) continue;
    const other = familyOf(gateway) === 4 ? bridge.inet[0] : undefined;
    if (other) {
      const old = `${other.address}/${other.prefixLength}`;
      if (!conf.forceAddress) {
        throw new CniError(ErrorCode.InvalidConfig, `bridge ${conf.bridge} already has address ${old}`, `set forceAddress to replace it with ${gateway}`);
      }
      await rollback.step(`remove ${old}`, () => host.removeAddress(conf.bridge, old), () => host.addAddress(conf.bridge, old));
    }
    await rollback.step(`gateway ${gateway}`, () => host.addAddress(conf.bridge, gateway), () => host.removeAddress(conf.bridge, gateway));
  }
  if (plan.gatewayAddresses.length > 0 && !bridge.up) await host.setUp(conf.bridge, true);
}

/**
 * An interface of that name that is not a bridge cannot carry the network (`lo0`, an
 * uplink). Cloned interfaces are in their cloner's group: FreeBSD's ifconfig prints
 * `groups: bridge`, the Linux driver reports the link kind the same way.
 */
export function requireBridge(info: InterfaceInfo, conf: BridgeConf): void {
  if (info.groups.includes('bridge')) return;
  throw new CniError(ErrorCode.InvalidConfig, `interface ${conf.bridge} exists and is not a bridge`, 'give this network another "bridge" name');
}

async function setUpBridge(host: Host, rollback: Rollback, conf: BridgeConf, plan: AttachmentPlan, seen: InterfaceInfo | undefined): Promise<InterfaceInfo> {
  const bridge = await ensureBridge(host, rollback, conf, seen);
  requireBridge(bridge, conf);
  if (bridgeReady(bridge, conf, plan)) return bridge;
  if (conf.promiscMode && !bridge.flags.includes('PROMISC')) await host.setPromisc(conf.bridge, true);
  await bridgeMtu(host, rollback, conf, bridge);
  await gatewayOnBridge(host, rollback, conf, plan, bridge);
  return (await host.inspectInterface(conf.bridge)) ?? bridge;
}

/**
 * Makes the bridge ready for this attachment and returns it as it is now. One ADD sets
 * it up under the bridge's lock; the others do not queue behind it (each would then
 * look at the bridge in turn): they wait until it is done and look once more.
 */
export async function readyBridge(host: Host, rollback: Rollback, conf: BridgeConf, plan: AttachmentPlan, first: InterfaceInfo | undefined | null = null): Promise<InterfaceInfo> {
  const lock = await bridgeLock(conf.bridge);
  const budget = waitBudget(DEFAULT_LOCK_WAIT_MS);
  const deadline = Date.now() + budget;
  // The caller's read of the bridge (undefined: it is absent; null: not read) serves as the first look.
  let look: InterfaceInfo | undefined | null = first;
  for (;;) {
    const seen = look === null ? await host.inspectInterface(conf.bridge) : look;
    look = null;
    if (seen) requireBridge(seen, conf);
    if (seen && bridgeReady(seen, conf, plan)) return seen;
    const release = await tryLock(lock);
    if (release) {
      try {
        // Under the lock, a bridge seen half set up is read again (another ADD may have finished
        // it); one seen absent is created at once, and a creation that finds it made reads it.
        const current = seen ? await host.inspectInterface(conf.bridge) : undefined;
        if (current && bridgeReady(current, conf, plan)) return current;
        return await setUpBridge(host, rollback, conf, plan, current);
      } finally {
        await release();
      }
    }
    while (await lockHeld(lock)) {
      if (Date.now() > deadline) throw new LockTimeoutError(lock, budget);
      await sleep(20 + Math.random() * 30);
    }
  }
}

/** IP forwarding for the families the gateway serves: idempotent, so no lock. */
export async function enableForwarding(host: Host, plan: AttachmentPlan): Promise<void> {
  for (const family of plan.forwarding) await host.enableForwarding(family);
}

export type BridgeRemoval = 'removed' | 'absent' | 'in use';

/**
 * Removes a bridge nothing uses any more, as netavark does when a network's last container
 * leaves: no jailnet attachment is recorded on it and it has no member (a member that is
 * not jailnet's, an admin's uplink, keeps it). Under the bridge's lock, so no first ADD is
 * setting it up meanwhile; an ADD records its attachment before it looks at the bridge.
 */
export async function removeUnusedBridge(host: Host, bridge: string, how: { attachments?: string; planning?: boolean } = {}): Promise<BridgeRemoval> {
  const attachments = how.attachments ?? (await attachmentsDir());
  const work = async (): Promise<BridgeRemoval> => {
    const records = await bridgeRecords(attachments).all();
    if (records.some((r) => r.bridge === bridge)) return 'in use';
    const info = await host.inspectInterface(bridge);
    if (!info) return 'absent';
    if (!info.groups.includes('bridge') || info.members.length > 0) return 'in use';
    await host.destroyInterface(bridge);
    return 'removed';
  };
  // A plan (--dry-run) writes nothing, not even a lock file.
  return how.planning ? work() : withLock(await bridgeLock(bridge, attachments), work);
}
