// The load balancer on Linux: nft-balancer.ts's transaction applied in the pod's netns,
// connections counted from conntrack's table there, flows ended with conntrack -D.
import type { ConnectionCounts } from '../../balancer/listing.js';
import { connectionKey } from '../../balancer/listing.js';
import { isEmptyRules, withDefaults, type BalancerRules, type LbProtocol, type Timeouts } from '../../balancer/rules.js';
import type { LoadBalancer } from '../balancer.js';
import { hasTool, HostCommandError, type ExecDoor } from '../exec.js';
import type { RunInVnet, Vnet } from '../host.js';
import { conntrack, nft, sysctl } from './commands.js';
import { BALANCER_NFT_TABLE } from '../../persistent-names.js';
import { balancerScript, LINUX_SCHEDULERS, nftBalancerDrift } from './nft-balancer.js';
import { emptyState, parseNftTable } from './nft-table.js';
import { parseConntrackFlows, parseDeletedFlows } from './parse.js';

/**
 * IPVS's own timeouts where `--set` left one at 0 (ip_vs_proto_tcp.c, ip_vs_proto_udp.c):
 * the ct timeout objects need a value for each.
 */
const IPVS_TIMEOUTS: Timeouts = { tcp: 900, tcpfin: 120, udp: 300 };

const filled = (t: Timeouts): Timeouts => withDefaults(t, IPVS_TIMEOUTS);

export class NftLoadBalancer implements LoadBalancer {
  readonly schedulers = LINUX_SCHEDULERS;

  constructor(
    private readonly run: RunInVnet,
    private readonly door: ExecDoor,
  ) {}

  async apply(previous: BalancerRules, next: BalancerRules, vnet: Vnet): Promise<void> {
    await this.run(nft.apply(), vnet, { input: balancerScript(previous, next, filled) });
  }

  /** Once `--set` was given, its values (IPVS's where 0); before, conntrack's own in the netns. */
  async timeouts(rules: BalancerRules, vnet: Vnet): Promise<Timeouts> {
    if (rules.timeouts) return filled(rules.timeouts);
    const names = ['tcp_timeout_established', 'tcp_timeout_fin_wait', 'udp_timeout_stream'].map((n) => `net.netfilter.nf_conntrack_${n}`);
    const values = (await this.run(sysctl.getAll(names), vnet, { reads: true })).stdout.trim().split(/\s+/).map(Number);
    return { tcp: values[0] ?? 0, tcpfin: values[1] ?? 0, udp: values[2] ?? 0 };
  }

  async connections(rules: BalancerRules, vnet: Vnet): Promise<ConnectionCounts> {
    const counts: ConnectionCounts = new Map();
    if (rules.services.length === 0 || !hasTool(this.door, 'conntrack')) return counts;
    const flows = parseConntrackFlows((await this.run(conntrack.list(), vnet, { reads: true })).stdout);
    for (const flow of flows) {
      if (flow.protocol !== 'tcp' && flow.protocol !== 'udp') continue;
      const service = { protocol: flow.protocol as LbProtocol, address: flow.original.dst, port: flow.original.dport };
      const key = connectionKey(service, { address: flow.reply.src, port: flow.reply.sport });
      const entry = counts.get(key) ?? { active: 0, inactive: 0 };
      // IPVS counts a TCP connection in ESTABLISHED as active and every other one, UDP included, as inactive.
      if (flow.state === 'ESTABLISHED') entry.active += 1;
      else entry.inactive += 1;
      counts.set(key, entry);
    }
    return counts;
  }

  async drift(rules: BalancerRules, vnet: Vnet): Promise<string | undefined> {
    if (isEmptyRules(rules)) return undefined;
    const listed = await this.run(nft.listTable(BALANCER_NFT_TABLE, 'ip'), vnet, { reads: true, allowFailure: true });
    if (listed.exitCode !== 0 && !/No such file or directory/.test(listed.stderr)) throw new HostCommandError(listed);
    return nftBalancerDrift(listed.exitCode === 0 ? parseNftTable(listed.stdout) : emptyState(), rules);
  }

  async killFlows(address: string, protocol: LbProtocol, vnet: Vnet): Promise<number> {
    if (!hasTool(this.door, 'conntrack')) return 0;
    return parseDeletedFlows((await this.run(conntrack.deleteProtocolTo(address, protocol), vnet, { allowFailure: true })).stderr);
  }
}
