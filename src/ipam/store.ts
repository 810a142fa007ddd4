// host-local's on-disk lease store, byte for byte the reference layout so leases carry
// over: <dataDir>/<network>/<address> holding "<containerID>\r\n<ifname>",
// last_reserved_ip.<rangeSetIndex>, and an empty `lock` file; beside the network's
// directory, jailnet's index of its leases by attachment (lease-index.ts), so that no ADD
// or DEL reads every lease.
import { constants, existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { withLock } from '../util/file-lock.js';
import { formatIP, parseIP, type IP } from './ip.js';
import { LeaseIndex } from './lease-index.js';

const LINE_BREAK = '\r\n';
const LAST_RESERVED_PREFIX = 'last_reserved_ip.';
export const LOCK_FILE = 'lock';
/** Present only while a jailnet process holds the lock (see util/file-lock). */
export const LOCK_OWNER_FILE = 'lock.owner';

export interface Lease {
  ip: IP;
  containerId: string;
  ifname: string;
}

function leaseKey(containerId: string, ifname: string): string {
  return `${containerId.trim()}${LINE_BREAK}${ifname}`;
}

/** A lease file's content: "<containerID>\r\n<ifname>", or the ID alone as older plugins wrote it. */
function parseLease(text: string): { containerId: string; ifname: string } {
  const [containerId = '', ifname = ''] = text.trim().split(LINE_BREAK);
  return { containerId, ifname };
}

export class LeaseStore {
  private constructor(
    readonly dir: string,
    private readonly index: LeaseIndex,
  ) {}

  /** Opens the network's directory, creating it and its lock file as the reference does. */
  static async open(dataDir: string, network: string): Promise<LeaseStore> {
    const dir = path.join(dataDir, network);
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    const handle = await fs.open(path.join(dir, LOCK_FILE), constants.O_RDONLY | constants.O_CREAT, 0o750);
    await handle.close();
    return new LeaseStore(dir, new LeaseIndex(dataDir, network));
  }

  /** Runs work under the network's cross-process lock. */
  locked<T>(work: () => Promise<T>): Promise<T> {
    return withLock(path.join(this.dir, LOCK_OWNER_FILE), work);
  }

  /** The index, built from the leases the first time it is needed (callers hold the lock). */
  private async indexed(): Promise<LeaseIndex> {
    await this.index.ready(async () => (await this.leases()).map((l) => ({ key: leaseKey(l.containerId, l.ifname), address: formatIP(l.ip) })));
    return this.index;
  }

  /** Claims an address; false when another attachment holds it. Listed in the index first: a crash leaves a hint too many, never a lease unlisted. */
  async reserve(containerId: string, ifname: string, ip: IP, rangeSetIndex: number): Promise<boolean> {
    const name = formatIP(ip);
    const leasePath = path.join(this.dir, name);
    // Taken: no index change for it (an allocation tries address after address).
    if (existsSync(leasePath)) return false;
    const key = leaseKey(containerId, ifname);
    const index = await this.indexed();
    const added = await index.add(key, name);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(leasePath, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (error) {
      if (added) await index.remove(key, [name]);
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      await handle.writeFile(key);
    } catch (error) {
      await handle.close();
      await fs.rm(leasePath, { force: true });
      throw error;
    }
    await handle.close();
    await this.writeLastReserved(rangeSetIndex, name);
    return true;
  }

  /** Written through a temp file so a crash never leaves a torn last_reserved_ip. */
  private async writeLastReserved(rangeSetIndex: number, address: string): Promise<void> {
    // The reference plugin does not fsync it either: it is a hint for the next allocation.
    await writeFileAtomic(path.join(this.dir, `${LAST_RESERVED_PREFIX}${rangeSetIndex}`), address, { mode: 0o644, dirMode: 0o755, sync: false });
  }

  async lastReserved(rangeSetIndex: number): Promise<IP | undefined> {
    try {
      const text = await fs.readFile(path.join(this.dir, `${LAST_RESERVED_PREFIX}${rangeSetIndex}`), 'utf8');
      return parseIP(text.trim()) ?? undefined;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** Every lease file: files named by an address. */
  async leases(): Promise<Lease[]> {
    const entries = await fs.readdir(this.dir, { withFileTypes: true });
    const leases: Lease[] = [];
    for (const entry of entries) {
      const ip = entry.isFile() ? parseIP(entry.name) : null;
      const lease = ip ? await this.readLease(ip) : undefined;
      if (ip && lease) leases.push({ ip, ...lease });
    }
    return leases;
  }

  /** Who holds an address; undefined when nobody does. */
  private async readLease(ip: IP): Promise<{ containerId: string; ifname: string } | undefined> {
    try {
      return parseLease(await fs.readFile(path.join(this.dir, formatIP(ip)), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * What the index lists for an attachment: its leases (their file names it) and those it
   * cut short — an empty lease file is a reservation stopped by a crash between the file's
   * creation and its content, and the index listed it for this attachment first; under the
   * network's lock nobody else is writing one.
   */
  private async listed(containerId: string, ifname: string): Promise<{ held: IP[]; cutShort: IP[] }> {
    const index = await this.indexed();
    const held: IP[] = [];
    const cutShort: IP[] = [];
    for (const address of await index.addresses(leaseKey(containerId, ifname))) {
      const ip = parseIP(address);
      const lease = ip ? await this.readLease(ip) : undefined;
      if (!ip || !lease) continue;
      if (lease.containerId === '') cutShort.push(ip);
      else if (lease.containerId === containerId.trim() && lease.ifname === ifname) held.push(ip);
    }
    return { held, cutShort };
  }

  /** The attachment's leases: those the index lists for it whose lease file names it. */
  async byAttachment(containerId: string, ifname: string): Promise<IP[]> {
    return (await this.listed(containerId, ifname)).held;
  }

  /** The attachment's leases, after releasing any reservation of its that a crash cut short (an ADD's first step). */
  async heldAfterCrash(containerId: string, ifname: string): Promise<IP[]> {
    const { held, cutShort } = await this.listed(containerId, ifname);
    for (const ip of cutShort) await this.release(ip, leaseKey(containerId, ifname));
    return held;
  }

  /** Removes a lease, and its address from the index under its holder's key (`key` for a lease cut short, which names none). */
  async release(ip: IP, key?: string): Promise<void> {
    const lease = await this.readLease(ip);
    await fs.rm(path.join(this.dir, formatIP(ip)), { force: true });
    const owner = key ?? (lease ? leaseKey(lease.containerId, lease.ifname) : undefined);
    if (owner !== undefined) await (await this.indexed()).remove(owner, [formatIP(ip)]);
  }

  /** Releases every lease of an attachment, cut short ones included; old-style leases holding only the ID count when no new-style one does. */
  async releaseAttachment(containerId: string, ifname: string): Promise<number> {
    const key = leaseKey(containerId, ifname);
    const { held, cutShort } = await this.listed(containerId, ifname);
    const victims = held.length > 0 ? held : await this.byAttachment(containerId, '');
    for (const ip of victims) await this.release(ip);
    for (const ip of cutShort) await this.release(ip, key);
    return victims.length + cutShort.length;
  }
}
