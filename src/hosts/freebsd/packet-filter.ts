// jailnet's packet-filter intents on FreeBSD: published ports as rdr/nat rules in one
// cni-rdr/<key> anchor per attachment, isolation in jailnet's own anchor, masquerading
// through the <cni-nat> table that pf.conf translates. pfctl has no `-j`: work in a vnet
// goes through jexec (the driver's run).
import { HostCommandError } from '../exec.js';
import { sysctlFact, type SettledFacts } from '../facts.js';
import type { RunInVnet, Vnet } from '../host.js';
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
import { ISOLATION_ANCHOR, MASQUERADE_TABLE, rdrAnchor } from '../../persistent-names.js';
import { pfctl } from './commands.js';
import { parseDeletedAddresses, parseKilledStates, parsePfLines, pfEnabled } from './parse.js';
import { parseForwards, parseIsolated, renderIsolation, renderPublication } from './pf-text.js';

/** pfctl -k's two hosts for the states from anywhere to `address`. */
const statesTo = (address: string): string[] => [address.includes(':') ? '::/0' : '0.0.0.0/0', address];

/**
 * What pfctl prints for an anchor that was never loaded (DIOCGETRULES on a missing ruleset).
 * FreeBSD 14's pfctl.c main() ignores what pfctl_show_rules and pfctl_show_nat return, so the
 * warning comes with exit status 0 there (the reference's reports saw 1): either way the
 * anchor holds nothing, and an exit status of 0 is read as the empty listing it prints.
 */
const MISSING_ANCHOR = /DIOCGETRULES: Invalid argument/;
const FILTER_LOCAL = 'net.pf.filter_local';

export class PfPacketFilter implements PacketFilter {
  constructor(
    private readonly run: RunInVnet,
    private readonly host: { readonly facts: SettledFacts; sysctlGet(name: string, vnet?: Vnet): Promise<string>; isModuleLoaded(name: string): Promise<boolean> },
  ) {}

  private async load(anchor: string, text: string, vnet: Vnet): Promise<void> {
    await this.run(pfctl.load(anchor), vnet, { input: text });
  }

  private async show(anchor: string, what: 'rules' | 'nat', vnet: Vnet): Promise<string[]> {
    const result = await this.run(pfctl.show(anchor, what), vnet, { allowFailure: true, reads: true });
    if (result.exitCode !== 0 && MISSING_ANCHOR.test(result.stderr)) return [];
    if (result.exitCode !== 0) throw new HostCommandError(result);
    return parsePfLines(result.stdout);
  }

  async publishPorts(publication: PortPublication, vnet?: Vnet): Promise<string[]> {
    validatePublication(publication);
    await this.load(rdrAnchor(publication.owner), renderPublication(publication), vnet);
    return (await this.filterLocal(vnet))
      ? []
      : ['net.pf.filter_local is not 1, so connections from this host to its own addresses skip the published ports; run: sysctl net.pf.filter_local=1'];
  }

  /** pf leaves the host's own connections alone unless filter_local is set; on the host, once seen set it is not read again. */
  private async filterLocal(vnet: Vnet): Promise<boolean> {
    const fact = sysctlFact(FILTER_LOCAL, '1');
    if (vnet === undefined && this.host.facts.has(fact)) return true;
    const on = (await this.host.sysctlGet(FILTER_LOCAL, vnet).catch(() => '0')) === '1';
    if (on && vnet === undefined) this.host.facts.add(fact);
    return on;
  }

  /**
   * One pfctl for the flush and the first address's states. Flushing an anchor that holds
   * nothing is no error: DIOCXBEGIN finds or creates the ruleset and the commit removes it
   * again when empty (pf_begin_rules, pf_commit_rules in sys/netpfil/pf/pf_ioctl.c).
   */
  async unpublishPorts(owner: PublicationOwner, flowsTo: string[], vnet?: Vnet): Promise<void> {
    validateAddresses(flowsTo);
    const [first, ...rest] = flowsTo;
    await this.run(pfctl.flush(rdrAnchor(owner), 'nat', first === undefined ? [] : statesTo(first)), vnet);
    for (const address of rest) await this.killFlowsTo(address, vnet);
  }

  async publishedPorts(owner: PublicationOwner, vnet?: Vnet): Promise<PortForward[]> {
    return parseForwards(await this.show(rdrAnchor(owner), 'nat', vnet));
  }

  async setIsolation(policy: IsolationPolicy, vnet?: Vnet): Promise<void> {
    validatePolicy(policy);
    const text = renderIsolation(policy);
    if (text !== '') return this.load(ISOLATION_ANCHOR, text, vnet);
    if ((await this.show(ISOLATION_ANCHOR, 'rules', vnet)).length > 0) await this.run(pfctl.flush(ISOLATION_ANCHOR, 'all'), vnet);
  }

  async isolatedSubnets(vnet?: Vnet): Promise<string[]> {
    return parseIsolated(await this.show(ISOLATION_ANCHOR, 'rules', vnet));
  }

  async masquerade(addresses: string[], vnet?: Vnet): Promise<void> {
    validateAddresses(addresses);
    if (addresses.length > 0) await this.run(pfctl.table(MASQUERADE_TABLE, 'add', addresses), vnet);
  }

  /**
   * `-T delete` of addresses the table lacks is no error; pfctl says how many it deleted
   * (pfctl_table.c). A missing table is "Table does not exist." with exit status 255
   * (pfctl_table's rv = -1 passed to exit()), so only the text is matched.
   */
  async unmasquerade(addresses: string[], vnet?: Vnet): Promise<number> {
    validateAddresses(addresses);
    if (addresses.length === 0) return 0;
    const result = await this.run(pfctl.table(MASQUERADE_TABLE, 'delete', addresses), vnet, { allowFailure: true });
    if (result.exitCode !== 0 && /Table does not exist/.test(result.stderr)) return 0;
    if (result.exitCode !== 0) throw new HostCommandError(result);
    return parseDeletedAddresses(result.stderr);
  }

  async masqueraded(vnet?: Vnet): Promise<string[]> {
    const result = await this.run(pfctl.table(MASQUERADE_TABLE, 'show'), vnet, { allowFailure: true, reads: true });
    if (result.exitCode !== 0 && /Table does not exist/.test(result.stderr)) return [];
    if (result.exitCode !== 0) throw new HostCommandError(result);
    return parsePfLines(result.stdout);
  }

  async killFlowsTo(address: string, vnet?: Vnet): Promise<number> {
    const [from, to] = statesTo(address) as [string, string];
    return parseKilledStates((await this.run(pfctl.kill(from, to), vnet)).stderr);
  }

  async available(): Promise<boolean> {
    return this.host.isModuleLoaded('pf');
  }

  /** The main ruleset's translation lines (`pfctl -s nat`): what status checks pf.conf's hooks against. */
  async mainNatLines(): Promise<string[]> {
    return this.show('', 'nat', undefined);
  }

  /** pf.conf holds the hooks (`status` checks them); jailnet's anchors hang on nothing of jailnet's own. */
  async baseIntact(): Promise<boolean> {
    return true;
  }

  async restoreBase(): Promise<void> {}

  /** Every change reads or replaces what it changes: there is nothing remembered to forget. */
  async resync(): Promise<void> {}

  async enabled(): Promise<boolean> {
    const result = await this.run(pfctl.info(), undefined, { allowFailure: true, reads: true });
    return result.exitCode === 0 && pfEnabled(result.stdout);
  }
}
