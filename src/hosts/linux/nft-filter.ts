// jailnet's packet-filter intents on Linux: nft-table.ts renders them, this module reads
// what a change needs, applies one transaction under the table's lock, and sets what the
// kernel needs around it (route_localnet for DNAT of 127.0.0.1 towards a bridge). A change
// reads only its own part of the table (a publication's chain, the isolation chain, the
// addresses it names), so its cost does not grow with the number of pods (issue 12).
//
// The table goes when nothing of jailnet's is left in it. Knowing that without reading it
// all, the filter keeps a count of what the table holds (publications, masqueraded
// addresses, an isolation policy) beside the lock, in the run directory, which goes at
// reboot with the table. Without the count (first use, or after a reboot) one whole read
// makes it, and also brings a table of an earlier jailnet to this layout; when the count
// reaches zero a whole read (of a table that is then nearly empty) confirms it before the
// table is deleted, and corrects the count if it was wrong. jailnetd puts the deletion of
// the host's emptied table off a while (util/deferred-cleanup.ts): the next pod — podman
// run after podman run — then finds it declared, and neither call waits for the RCU grace
// period of a declaration or a deletion.
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { cancelCleanup, cleanupsMayWait, deferCleanup } from '../../util/deferred-cleanup.js';
import { withLock } from '../../util/file-lock.js';
import { publicationKey, MASQUERADE_TABLE, NFT_TABLE } from '../../persistent-names.js';
import { hasTool, HostCommandError, type ExecDoor } from '../exec.js';
import type { RunInVnet, Vnet } from '../host.js';
import { familyOf } from '../../ipam/ip.js';
import {
  validateAddresses,
  validatePolicy,
  validatePublication,
  type IsolationPolicy,
  type PacketFilter,
  type PortForward,
  type PortPublication,
  type PublicationOwner,
} from '../packet-filter.js';
import { conntrack, ifn, nft } from './commands.js';
import { netnsPathOf } from './jails.js';
import {
  BASE_LISTING,
  baseIntact,
  baseIntactInListing,
  DELETE_TABLE,
  dnatChain,
  elementsLeadingTo,
  emptyState,
  forwardsOf,
  isolatedOf,
  ISOLATION_CHAIN,
  isolationRules,
  isolationChanges,
  masqueradedOf,
  masqueradeChanges,
  migrationChanges,
  ownersOf,
  parseNftTable,
  publicationChanges,
  setNames,
  transaction,
  withoutCovered,
  type ElementsByMap,
  type NftState,
} from './nft-table.js';
import { parseDeletedFlows } from './parse.js';

const MISSING = /No such file or directory/;

/**
 * What this process knows of one table (by its count file) from the changes it made
 * itself and the reads it did: each publication's forwards, and every masqueraded address
 * once it knows them all (the table was empty, or read whole). Valid while the stamp
 * beside the count is the one this process left; a change by any other process leaves
 * another, and it is forgotten. jailnetd serves every call, so its memory spares a read
 * per change.
 */
interface TableMemory {
  stamp?: string;
  forwards: Map<string, PortForward[]>;
  masqueraded?: Set<string>;
  /** The table was left there empty, its deletion put off. */
  keptEmpty?: boolean;
}

/** How long jailnetd keeps the host's emptied table before deleting it. */
const EMPTY_TABLE_GRACE_MS = 30_000;

const memories = new Map<string, TableMemory>();

function memoryOf(countFile: string, known: { owners: number; stamp?: string } | undefined): TableMemory {
  const memory = memories.get(countFile);
  if (memory && known?.stamp !== undefined && memory.stamp === known.stamp) return memory;
  // A table that holds nothing of jailnet's: all of it is known.
  const fresh: TableMemory = { forwards: new Map(), ...(known?.owners === 0 ? { masqueraded: new Set<string>() } : {}) };
  memories.set(countFile, fresh);
  return fresh;
}

/** What a whole read of the table teaches: every masqueraded address. */
function learn(memory: TableMemory, state: NftState): void {
  memory.masqueraded = new Set(masqueradedOf(state));
}

/** What a change's work gets: this process's memory of the table, and transactions on it (see transact()). */
interface TableAtHand {
  memory: TableMemory;
  /** The table's owners as counted before this change. */
  owners: number;
  apply(changes: string[]): Promise<void>;
  /** For changes that may not hold: whether they did. */
  attempt(changes: string[]): Promise<boolean>;
  /**
   * Masqueraded addresses whose removal takes the table's last owners: removed with the
   * table, in one transaction instead of two (each removal waits for an RCU grace
   * period), once the whole read that confirms the table empty leaves only them in it;
   * removed at once where the table's deletion is put off.
   */
  removeLast(addresses: string[]): Promise<void>;
}

export class NftPacketFilter implements PacketFilter {
  constructor(
    private readonly run: RunInVnet,
    private readonly door: ExecDoor,
    private readonly runDirectory: string,
    private readonly sysctlSet: (name: string, value: string, vnet?: Vnet) => Promise<void>,
  ) {}

  /** A listing of the table or one of its chains; an empty state when it does not exist. */
  private async list(argv: ReturnType<typeof nft.listTable>, vnet: Vnet): Promise<NftState> {
    const result = await this.run(argv, vnet, { allowFailure: true, reads: true });
    if (result.exitCode !== 0 || result.stdout.trim() === '') {
      if (result.exitCode !== 0 && !MISSING.test(result.stderr)) throw new HostCommandError(result);
      return emptyState();
    }
    return parseNftTable(result.stdout);
  }

  private readTable(vnet: Vnet): Promise<NftState> {
    return this.list(nft.listTable(NFT_TABLE), vnet);
  }

  private readChain(chain: string, vnet: Vnet): Promise<NftState> {
    return this.list(nft.listChain(NFT_TABLE, chain), vnet);
  }

  /**
   * Applies changes in one transaction, and says whether it held (only `mayFail` ones may
   * not; nft then changes nothing). Where the table is known to be there, without its
   * declaration (see transaction()), and with it only when the table turns out missing.
   * A table that is there may have lost its base rules to an `nft flush table` (a firewall
   * reload) that jailnet's count and memory cannot see: the bare transaction lists a base
   * chain after its changes, and where their rules are gone they are put back at once (a
   * flushed table's rules are podman's `network reload` remedy's to restore, issue 33).
   */
  private async transact(changes: string[], vnet: Vnet, tableKnown: boolean, mayFail = false): Promise<boolean> {
    if (tableKnown) {
      const input = `${transaction(changes, false)}${BASE_LISTING}\n`;
      const bare = await this.run(nft.apply(), vnet, { input, allowFailure: true });
      if (bare.exitCode === 0) {
        if (!this.door.planning && !baseIntactInListing(bare.stdout)) await this.run(nft.apply(), vnet, { input: transaction([]) });
        return true;
      }
      if (!MISSING.test(bare.stderr)) {
        if (mayFail) return false;
        throw new HostCommandError(bare);
      }
    }
    return (await this.run(nft.apply(), vnet, { input: transaction(changes), allowFailure: mayFail })).exitCode === 0;
  }

  /** The lock and the count of one vnet's table, beside each other in the run directory. */
  private files(vnet: Vnet): { lock: string; count: string } {
    const stem = vnet === undefined ? 'nft' : `nft-${netnsPathOf(vnet).replace(/[^A-Za-z0-9_-]/g, '_')}`;
    return { lock: path.join(this.runDirectory, `${stem}.lock`), count: path.join(this.runDirectory, `${stem}.owners`) };
  }

  /**
   * Runs one change under the table's lock. `work` applies its transaction and returns how
   * many owners of the table it added (negative: removed); the count is kept, and the
   * table deleted when nothing of jailnet's is left in it (or kept a while: settle()).
   * Each change leaves a new stamp beside the count: `work` gets this process's memory of
   * the table only while the stamp is the one this process left, that is while no other
   * process changed the table. `dropNow`: the put-off deletion itself.
   */
  private async change(vnet: Vnet, work: (table: TableAtHand) => Promise<number>, dropNow = false): Promise<void> {
    const files = this.files(vnet);
    // Only the host's table: a pod's namespace may be gone by the time the timer fires.
    const keepEmpty = !dropNow && vnet === undefined && cleanupsMayWait() && !this.door.planning;
    const run = async () => {
      const known = await this.knownCount(files.count);
      // A plan (--dry-run) changes nothing, so it teaches this process nothing either.
      const memory = this.door.planning ? { forwards: new Map<string, PortForward[]>() } : memoryOf(files.count, known);
      // Owners counted means the table was left there, whole, by the last change; so does one kept empty.
      const tableKnown = (known?.owners ?? 0) > 0 || memory.keptEmpty === true;
      // Kept only where the table is known to be there (a change that found none makes none).
      const keep = keepEmpty && tableKnown;
      let owners = known?.owners ?? (await this.countAndMigrate(vnet, memory));
      let last: string[] = [];
      const apply = async (changes: string[]) => void (await this.transact(changes, vnet, tableKnown));
      const table: TableAtHand = {
        memory,
        owners,
        apply,
        attempt: (changes) => this.transact(changes, vnet, tableKnown, true),
        removeLast: async (addresses) => (keep ? apply(masqueradeChanges('delete', addresses)) : void (last = addresses)),
      };
      try {
        owners += await work(table);
      } catch (error) {
        memories.delete(files.count);
        throw error;
      }
      owners = await this.settle(vnet, files.count, memory, owners, keep ? 'keep' : last);
      if (this.door.planning) return;
      memory.stamp = randomBytes(8).toString('hex');
      await fs.writeFile(files.count, `${owners} ${memory.stamp}\n`, { mode: 0o600 });
      // Nothing to remember of a table that is gone (a pod's namespace may not come back).
      if (owners === 0 && !memory.keptEmpty) memories.delete(files.count);
    };
    if (this.door.planning) return void (await run());
    await fs.mkdir(this.runDirectory, { recursive: true, mode: 0o700 });
    await withLock(files.lock, run);
  }

  private async knownCount(file: string): Promise<{ owners: number; stamp?: string } | undefined> {
    if (this.door.planning) return undefined;
    const [count, stamp] = (await fs.readFile(file, 'utf8').catch(() => '')).trim().split(/\s+/);
    const owners = count ? Number(count) : NaN;
    return Number.isInteger(owners) && owners >= 0 ? { owners, stamp } : undefined;
  }

  /** One whole read: the count, and the elements a table of an earlier layout lacks. */
  private async countAndMigrate(vnet: Vnet, memory: TableMemory): Promise<number> {
    const state = await this.readTable(vnet);
    learn(memory, state);
    const migration = state.exists ? migrationChanges(state) : [];
    if (migration.length > 0) await this.transact(migration, vnet, false);
    return ownersOf(state);
  }

  /**
   * The table's owners once a change is done. With none left, the table is deleted
   * (dropIfEmpty), or in jailnetd kept empty a while: the deletion, with its confirming
   * whole read, runs later unless a change gives the table owners again first.
   */
  private async settle(vnet: Vnet, countFile: string, memory: TableMemory, owners: number, last: string[] | 'keep'): Promise<number> {
    if (owners > 0) {
      memory.keptEmpty = false;
      cancelCleanup(countFile);
      return owners;
    }
    if (last !== 'keep') return this.dropIfEmpty(vnet, memory, last);
    memory.keptEmpty = true;
    deferCleanup(countFile, EMPTY_TABLE_GRACE_MS, () => this.change(vnet, async () => 0, true));
    return 0;
  }

  /** The table deleted if a whole read finds nothing of jailnet's in it but `last` (see removeLast); its owners left. */
  private async dropIfEmpty(vnet: Vnet, memory: TableMemory, last: string[]): Promise<number> {
    const state = await this.readTable(vnet);
    const going = masqueradedOf(state).filter((a) => last.includes(a));
    const owners = ownersOf(state) - going.length;
    if (owners === 0 && state.exists) await this.run(nft.apply(), vnet, { input: DELETE_TABLE });
    else if (going.length > 0) await this.transact(masqueradeChanges('delete', going), vnet, true);
    learn(memory, owners === 0 ? emptyState() : state);
    for (const address of going) memory.masqueraded?.delete(address);
    return owners;
  }

  /** The forwards `key`'s publication has now, from its own DNAT chain; undefined when it has none. */
  private async ownForwards(key: string, vnet: Vnet): Promise<PortForward[] | undefined> {
    const chain = await this.readChain(dnatChain(key), vnet);
    return chain.exists ? forwardsOf(chain, key) : undefined;
  }

  /**
   * What a change must take away of `key`'s publication: its forwards, or, where a flush
   * emptied its chain (a publication always has a forward), the map elements that still
   * lead to it, from one whole read (a chain cannot go while an element jumps to it).
   */
  private async previousOf(key: string, vnet: Vnet): Promise<PortForward[] | ElementsByMap | undefined> {
    const forwards = await this.ownForwards(key, vnet);
    if (forwards === undefined || forwards.length > 0) return forwards;
    return elementsLeadingTo(await this.readTable(vnet), key);
  }

  /**
   * DNAT of 127.0.0.1 towards a bridge needs the bridge to route loopback sources. On the
   * host it is read first from /proc (this process runs in the host's namespace), so only
   * the first publication on a bridge costs a command.
   */
  private async routeLocalnet(bridge: string, vnet: Vnet): Promise<void> {
    if (vnet === undefined) {
      const now = await fs.readFile(path.join('/proc/sys/net/ipv4/conf', ifn(bridge), 'route_localnet'), 'utf8').catch(() => '');
      if (now.trim() === '1') return;
    }
    await this.sysctlSet(`net.ipv4.conf.${bridge}.route_localnet`, '1', vnet);
  }

  async publishPorts(publication: PortPublication, vnet?: Vnet): Promise<string[]> {
    validatePublication(publication);
    const bridge = publication.hairpin?.bridge;
    if (bridge && publication.forwards.some((f) => familyOf(f.podAddress) === 4)) await this.routeLocalnet(bridge, vnet);
    const key = publicationKey(publication.owner);
    await this.change(vnet, async ({ memory, apply, attempt }) => {
      // Known to this process, or guessed absent (the transaction then fails if it is there): one nft, no read.
      const known = memory.forwards.get(key);
      if (await attempt(publicationChanges(key, known ?? 'unread', publication))) {
        memory.forwards.set(key, publication.forwards);
        return known === undefined ? 1 : 0;
      }
      memory.forwards.delete(key);
      const previous = await this.previousOf(key, vnet);
      await apply(publicationChanges(key, previous, publication));
      memory.forwards.set(key, publication.forwards);
      return previous === undefined ? 1 : 0;
    });
    return [];
  }

  async unpublishPorts(owner: PublicationOwner, flowsTo: string[], vnet?: Vnet): Promise<void> {
    validateAddresses(flowsTo);
    const key = publicationKey(owner);
    await this.change(vnet, async ({ memory, apply, attempt }) => {
      const known = memory.forwards.get(key);
      memory.forwards.delete(key);
      if (known !== undefined && (await attempt(publicationChanges(key, known, null)))) return -1;
      const previous = await this.previousOf(key, vnet);
      if (previous === undefined) return 0;
      await apply(publicationChanges(key, previous, null));
      return -1;
    });
    for (const address of flowsTo) await this.killFlowsTo(address, vnet);
  }

  async publishedPorts(owner: PublicationOwner, vnet?: Vnet): Promise<PortForward[]> {
    return (await this.ownForwards(publicationKey(owner), vnet)) ?? [];
  }

  async setIsolation(policy: IsolationPolicy, vnet?: Vnet): Promise<void> {
    validatePolicy(policy);
    const wanted = isolationRules(policy).length > 0;
    await this.change(vnet, async ({ apply }) => {
      const had = (await this.readChain(ISOLATION_CHAIN, vnet)).rules.length > 0;
      // An empty policy where there is none: no table is made for it.
      if (!had && !wanted) return 0;
      await apply(isolationChanges(policy));
      return Number(wanted) - Number(had);
    });
  }

  async isolatedSubnets(vnet?: Vnet): Promise<string[]> {
    return isolatedOf(await this.readChain(ISOLATION_CHAIN, vnet));
  }

  /** Which of the addresses the masquerade sets hold: one lookup for all of them, one each only when some are missing. */
  private async masqueradedAmong(addresses: string[], vnet: Vnet): Promise<string[]> {
    const sets = setNames(MASQUERADE_TABLE);
    const held = async (some: string[]) => {
      const set = familyOf(some[0] as string) === 6 ? sets.v6 : sets.v4;
      return (await this.run(nft.getElements(NFT_TABLE, set, some), vnet, { allowFailure: true, reads: true })).exitCode === 0;
    };
    const found: string[] = [];
    for (const family of [4, 6]) {
      const own = addresses.filter((a) => familyOf(a) === family);
      if (own.length === 0) continue;
      if (await held(own)) found.push(...own);
      else if (own.length > 1) for (const address of own) if (await held([address])) found.push(address);
    }
    return found;
  }

  /** Which of the addresses are masqueraded: from memory where it knows them all (no command), else looked up. */
  private async masqueradedOfThese(addresses: string[], memory: TableMemory, vnet: Vnet): Promise<string[]> {
    const all = memory.masqueraded;
    return all ? addresses.filter((a) => all.has(a)) : this.masqueradedAmong(addresses, vnet);
  }

  async masquerade(addresses: string[], vnet?: Vnet): Promise<void> {
    validateAddresses(addresses);
    const wanted = withoutCovered(addresses);
    if (wanted.length === 0) return;
    await this.change(vnet, async ({ memory, apply }) => {
      const present = await this.masqueradedOfThese(wanted, memory, vnet);
      const missing = wanted.filter((a) => !present.includes(a));
      if (missing.length > 0) await apply(masqueradeChanges('add', missing));
      for (const address of missing) memory.masqueraded?.add(address);
      return missing.length;
    });
  }

  async unmasquerade(addresses: string[], vnet?: Vnet): Promise<number> {
    validateAddresses(addresses);
    let present: string[] = [];
    if (addresses.length === 0) return 0;
    await this.change(vnet, async ({ memory, owners, apply, removeLast }) => {
      present = await this.masqueradedOfThese([...new Set(addresses)], memory, vnet);
      if (present.length >= owners) await removeLast(present);
      else if (present.length > 0) await apply(masqueradeChanges('delete', present));
      for (const address of present) memory.masqueraded?.delete(address);
      return -present.length;
    });
    return present.length;
  }

  async masqueraded(vnet?: Vnet): Promise<string[]> {
    return masqueradedOf(await this.readTable(vnet));
  }

  async killFlowsTo(address: string, vnet?: Vnet): Promise<number> {
    // conntrack(8) is optional on Linux: without it, flows to a removed pod simply time out.
    if (!hasTool(this.door, 'conntrack')) return 0;
    return parseDeletedFlows((await this.run(conntrack.deleteTo(address), vnet, { allowFailure: true })).stderr);
  }

  async available(): Promise<boolean> {
    return (await this.run(nft.probe(), undefined, { allowFailure: true, reads: true })).exitCode === 0;
  }

  async baseIntact(vnet?: Vnet): Promise<boolean> {
    return baseIntact(await this.readTable(vnet));
  }

  /** One transaction of the table's declaration, which resets the base chains (transaction()); owners do not change. */
  async restoreBase(vnet?: Vnet): Promise<void> {
    await this.change(vnet, async () => {
      await this.run(nft.apply(), vnet, { input: transaction([]) });
      return 0;
    });
  }

  /** The memory and the count go under the table's lock: the next change counts from a whole read. */
  async resync(vnet?: Vnet): Promise<void> {
    if (this.door.planning) return;
    const files = this.files(vnet);
    memories.delete(files.count);
    await fs.mkdir(this.runDirectory, { recursive: true, mode: 0o700 });
    await withLock(files.lock, () => fs.rm(files.count, { force: true }));
  }
}
