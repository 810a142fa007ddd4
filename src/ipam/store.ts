// host-local's on-disk lease store, byte for byte the reference layout so leases carry
// over: <dataDir>/<network>/<address> holding "<containerID>\r\n<ifname>",
// last_reserved_ip.<rangeSetIndex>, and an empty `lock` file.
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { withLock } from '../util/file-lock.js';
import { formatIP, parseIP, type IP } from './ip.js';

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

export class LeaseStore {
  private constructor(readonly dir: string) {}

  /** Opens the network's directory, creating it and its lock file as the reference does. */
  static async open(dataDir: string, network: string): Promise<LeaseStore> {
    const dir = path.join(dataDir, network);
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    const handle = await fs.open(path.join(dir, LOCK_FILE), constants.O_RDONLY | constants.O_CREAT, 0o750);
    await handle.close();
    return new LeaseStore(dir);
  }

  /** Runs work under the network's cross-process lock. */
  locked<T>(work: () => Promise<T>): Promise<T> {
    return withLock(path.join(this.dir, LOCK_OWNER_FILE), work);
  }

  /** Claims an address; false when another attachment holds it. */
  async reserve(containerId: string, ifname: string, ip: IP, rangeSetIndex: number): Promise<boolean> {
    const name = formatIP(ip);
    const leasePath = path.join(this.dir, name);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(leasePath, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, 0o644);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      await handle.writeFile(leaseKey(containerId, ifname));
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
      if (!ip) continue;
      let text: string;
      try {
        text = await fs.readFile(path.join(this.dir, entry.name), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      // Leases written before the ifname was recorded hold only the container ID.
      const [containerId = '', ifname = ''] = text.trim().split(LINE_BREAK);
      leases.push({ ip, containerId, ifname });
    }
    return leases;
  }

  private static matches(lease: Lease, containerId: string, ifname: string): boolean {
    return lease.containerId === containerId.trim() && lease.ifname === ifname;
  }

  async byAttachment(containerId: string, ifname: string): Promise<IP[]> {
    return (await this.leases()).filter((l) => LeaseStore.matches(l, containerId, ifname)).map((l) => l.ip);
  }

  async release(ip: IP): Promise<void> {
    await fs.rm(path.join(this.dir, formatIP(ip)), { force: true });
  }

  /** Releases every lease of an attachment; old-style leases holding only the ID count when no new-style one does. */
  async releaseAttachment(containerId: string, ifname: string): Promise<number> {
    const leases = await this.leases();
    let victims = leases.filter((l) => LeaseStore.matches(l, containerId, ifname));
    if (victims.length === 0) victims = leases.filter((l) => l.containerId === containerId.trim() && l.ifname === '');
    for (const lease of victims) await this.release(lease.ip);
    return victims.length;
  }
}
