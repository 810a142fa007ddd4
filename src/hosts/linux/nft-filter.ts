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
// table is deleted, and corrects the count if it was wrong.
import { promises as fs } from 'node:fs';
import path from 'node:path';
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
import { conntrack, nft } from './commands.js';
import { netnsPathOf } from './jails.js';
import {
  DELETE_TABLE,
  dnatChain,
  emptyState,
  forwardsOf,
  isolatedOf,
  ISOLATION_CHAIN,
  isolationRules,
  isolationTransaction,
  masqueradedOf,
  masqueradeTransaction,
  migrationTransaction,
  ownersOf,
  parseNftTable,
  publicationTransaction,
  setNames,
  withoutCovered,
  type NftState,
} from './nft-table.js';
import { parseDeletedFlows } from './parse.js';

const MISSING = /No such file or directory/;

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

  private async apply(script: string, vnet: Vnet): Promise<void> {
    await this.run(nft.apply(), vnet, { input: script });
  }

  /** The lock and the count of one vnet's table, beside each other in the run directory. */
  private files(vnet: Vnet): { lock: string; count: string } {
    const stem = vnet === undefined ? 'nft' : `nft-${netnsPathOf(vnet).replace(/[^A-Za-z0-9_-]/g, '_')}`;
    return { lock: path.join(this.runDirectory, `${stem}.lock`), count: path.join(this.runDirectory, `${stem}.owners`) };
  }

  /**
   * Runs one change under the table's lock. `work` applies its transaction and returns how
   * many owners of the table it added (negative: removed); the count is kept, and the
   * table deleted when nothing of jailnet's is left in it.
   */
  private async change(vnet: Vnet, work: () => Promise<number>): Promise<void> {
    const files = this.files(vnet);
    const run = async () => {
      let owners = await this.knownOwners(files.count);
      if (owners === undefined) owners = await this.countAndMigrate(vnet);
      owners += await work();
      if (owners <= 0) owners = await this.dropIfEmpty(vnet);
      if (!this.door.planning) await fs.writeFile(files.count, `${owners}\n`, { mode: 0o600 });
    };
    if (this.door.planning) return void (await run());
    await fs.mkdir(this.runDirectory, { recursive: true, mode: 0o700 });
    await withLock(files.lock, run);
  }

  private async knownOwners(file: string): Promise<number | undefined> {
    if (this.door.planning) return undefined;
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    const owners = text === undefined ? NaN : Number(text.trim());
    return Number.isInteger(owners) && owners >= 0 ? owners : undefined;
  }

  /** One whole read: the count, and the elements a table of an earlier layout lacks. */
  private async countAndMigrate(vnet: Vnet): Promise<number> {
    const state = await this.readTable(vnet);
    const migration = state.exists ? migrationTransaction(state) : '';
    if (migration !== '') await this.apply(migration, vnet);
    return ownersOf(state);
  }

  private async dropIfEmpty(vnet: Vnet): Promise<number> {
    const state = await this.readTable(vnet);
    const owners = ownersOf(state);
    if (owners === 0 && state.exists) await this.apply(DELETE_TABLE, vnet);
    return owners;
  }

  /** The forwards `key`'s publication has now, from its own DNAT chain; undefined when it has none. */
  private async ownForwards(key: string, vnet: Vnet): Promise<PortForward[] | undefined> {
    const chain = await this.readChain(dnatChain(key), vnet);
    return chain.exists ? forwardsOf(chain, key) : undefined;
  }

  async publishPorts(publication: PortPublication, vnet?: Vnet): Promise<string[]> {
    validatePublication(publication);
    const bridge = publication.hairpin?.bridge;
    // DNAT of 127.0.0.1 towards a bridge needs the bridge to route loopback sources.
    if (bridge && publication.forwards.some((f) => familyOf(f.podAddress) === 4)) {
      await this.sysctlSet(`net.ipv4.conf.${bridge}.route_localnet`, '1', vnet);
    }
    const key = publicationKey(publication.owner);
    await this.change(vnet, async () => {
      const previous = await this.ownForwards(key, vnet);
      await this.apply(publicationTransaction(key, previous, publication), vnet);
      return previous === undefined ? 1 : 0;
    });
    return [];
  }

  async unpublishPorts(owner: PublicationOwner, flowsTo: string[], vnet?: Vnet): Promise<void> {
    validateAddresses(flowsTo);
    const key = publicationKey(owner);
    await this.change(vnet, async () => {
      const previous = await this.ownForwards(key, vnet);
      if (previous === undefined) return 0;
      await this.apply(publicationTransaction(key, previous, null), vnet);
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
    await this.change(vnet, async () => {
      const had = (await this.readChain(ISOLATION_CHAIN, vnet)).rules.length > 0;
      // An empty policy where there is none: no table is made for it.
      if (!had && !wanted) return 0;
      await this.apply(isolationTransaction(policy), vnet);
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

  async masquerade(addresses: string[], vnet?: Vnet): Promise<void> {
    validateAddresses(addresses);
    const wanted = withoutCovered(addresses);
    if (wanted.length === 0) return;
    await this.change(vnet, async () => {
      const present = await this.masqueradedAmong(wanted, vnet);
      const missing = wanted.filter((a) => !present.includes(a));
      if (missing.length > 0) await this.apply(masqueradeTransaction('add', missing), vnet);
      return missing.length;
    });
  }

  async unmasquerade(addresses: string[], vnet?: Vnet): Promise<number> {
    validateAddresses(addresses);
    let present: string[] = [];
    if (addresses.length === 0) return 0;
    await this.change(vnet, async () => {
      present = await this.masqueradedAmong([...new Set(addresses)], vnet);
      if (present.length > 0) await this.apply(masqueradeTransaction('delete', present), vnet);
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
}
