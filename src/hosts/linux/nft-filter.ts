// jailnet's packet-filter intents on Linux: nft-table.ts renders them, this module reads
// the table, applies one transaction under the table's lock, and sets what the kernel
// needs around it (route_localnet for DNAT of 127.0.0.1 towards a bridge).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { withLock } from '../../util/file-lock.js';
import { publicationKey, NFT_TABLE } from '../../persistent-names.js';
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
  emptyState,
  forwardsOf,
  isolatedOf,
  isolationEdits,
  masqueradedOf,
  masqueradeEdits,
  NO_EDITS,
  parseNftTable,
  publicationKeys,
  publishEdits,
  transaction,
  unpublishEdits,
  type NftState,
  type TableEdits,
} from './nft-table.js';
import { parseDeletedFlows } from './parse.js';

export class NftPacketFilter implements PacketFilter {
  constructor(
    private readonly run: RunInVnet,
    private readonly door: ExecDoor,
    private readonly runDirectory: string,
    private readonly sysctlSet: (name: string, value: string, vnet?: Vnet) => Promise<void>,
  ) {}

  private async read(vnet: Vnet): Promise<NftState> {
    const result = await this.run(nft.listTable(NFT_TABLE), vnet, { allowFailure: true, reads: true });
    if (result.exitCode !== 0 || result.stdout.trim() === '') {
      if (result.exitCode !== 0 && !/No such file or directory/.test(result.stderr)) throw new HostCommandError(result);
      return emptyState();
    }
    return parseNftTable(result.stdout);
  }

  /** Reads, changes and writes the table under one lock, so concurrent plugins never lose each other's rules. */
  private async change(vnet: Vnet, edits: (state: NftState) => TableEdits): Promise<void> {
    const work = async () => {
      const state = await this.read(vnet);
      const script = transaction(state, edits(state));
      if (script !== '') await this.run(nft.apply(), vnet, { input: script });
    };
    if (this.door.planning) return work();
    await fs.mkdir(this.runDirectory, { recursive: true, mode: 0o700 });
    const lockName = vnet === undefined ? 'nft.lock' : `nft-${netnsPathOf(vnet).replace(/[^A-Za-z0-9_-]/g, '_')}.lock`;
    await withLock(path.join(this.runDirectory, lockName), work);
  }

  async publishPorts(publication: PortPublication, vnet?: Vnet): Promise<string[]> {
    validatePublication(publication);
    const bridge = publication.hairpin?.bridge;
    // DNAT of 127.0.0.1 towards a bridge needs the bridge to route loopback sources.
    if (bridge && publication.forwards.some((f) => familyOf(f.podAddress) === 4)) {
      await this.sysctlSet(`net.ipv4.conf.${bridge}.route_localnet`, '1', vnet);
    }
    await this.change(vnet, () => publishEdits(publicationKey(publication.owner), publication));
    return [];
  }

  async unpublishPorts(owner: PublicationOwner, flowsTo: string[], vnet?: Vnet): Promise<void> {
    validateAddresses(flowsTo);
    const key = publicationKey(owner);
    await this.change(vnet, (state) => (publicationKeys(state).includes(key) ? unpublishEdits(key) : NO_EDITS));
    for (const address of flowsTo) await this.killFlowsTo(address, vnet);
  }

  async publishedPorts(owner: PublicationOwner, vnet?: Vnet): Promise<PortForward[]> {
    return forwardsOf(await this.read(vnet), publicationKey(owner));
  }

  async setIsolation(policy: IsolationPolicy, vnet?: Vnet): Promise<void> {
    validatePolicy(policy);
    await this.change(vnet, () => isolationEdits(policy));
  }

  async isolatedSubnets(vnet?: Vnet): Promise<string[]> {
    return isolatedOf(await this.read(vnet));
  }

  async masquerade(addresses: string[], vnet?: Vnet): Promise<void> {
    validateAddresses(addresses);
    if (addresses.length > 0) await this.change(vnet, (state) => masqueradeEdits(state, addresses, []));
  }

  async unmasquerade(addresses: string[], vnet?: Vnet): Promise<number> {
    validateAddresses(addresses);
    let present: string[] = [];
    await this.change(vnet, (state) => {
      present = masqueradedOf(state).filter((a) => addresses.includes(a));
      return present.length > 0 ? masqueradeEdits(state, [], present) : NO_EDITS;
    });
    return present.length;
  }

  async masqueraded(vnet?: Vnet): Promise<string[]> {
    return masqueradedOf(await this.read(vnet));
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
