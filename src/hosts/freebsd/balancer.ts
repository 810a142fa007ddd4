// The load balancer on FreeBSD: lb-text.ts's pf text in the pod's own vnet. A change
// loads the anchor in one `pfctl -a jailnet-lb -f -`; the main ruleset (its hooks,
// timeouts, src.track) is loaded only when it changes. The first change also turns on
// what the path needs in that vnet: pf itself, and forwarding (a packet redirected on lo0
// leaves again for the real server).
import { connectionKey, type ConnectionCounts } from '../../balancer/listing.js';
import { isEmptyRules, withDefaults, type BalancerRules, type LbProtocol, type Timeouts } from '../../balancer/rules.js';
import { BALANCER_ANCHOR } from '../../persistent-names.js';
import type { LoadBalancer } from '../balancer.js';
import type { Host, RunInVnet, Vnet } from '../host.js';
import { pfctl } from './commands.js';
import { checkPfRules, FREEBSD_SCHEDULERS, lbAnchorText, lbMainRuleset, pfBalancerDrift, PF_DEFAULT_TIMEOUTS } from './lb-text.js';
import { parseKilledStates, parsePfLines, parsePfStates, pfEnabled } from './parse.js';

type HostPart = Pick<Host, 'sysctlGet' | 'sysctlSet'>;

const FORWARDING = 'net.inet.ip.forwarding';

export class PfLoadBalancer implements LoadBalancer {
  readonly schedulers = FREEBSD_SCHEDULERS;

  constructor(
    private readonly run: RunInVnet,
    private readonly host: HostPart,
  ) {}

  check(rules: BalancerRules): void {
    checkPfRules(rules);
  }

  async apply(previous: BalancerRules, next: BalancerRules, vnet: Vnet): Promise<void> {
    const first = isEmptyRules(previous);
    if (first) await this.prepare(vnet);
    if (first || lbMainRuleset(previous) !== lbMainRuleset(next)) await this.run(pfctl.loadMain(), vnet, { input: lbMainRuleset(next) });
    await this.run(pfctl.load(BALANCER_ANCHOR), vnet, { input: lbAnchorText(next) });
  }

  /** pf on, and forwarding, in the pod's vnet. */
  private async prepare(vnet: Vnet): Promise<void> {
    if ((await this.host.sysctlGet(FORWARDING, vnet)) !== '1') await this.host.sysctlSet(FORWARDING, '1', vnet);
    const info = await this.run(pfctl.info(), vnet, { reads: true, allowFailure: true });
    if (!pfEnabled(info.stdout)) await this.run(pfctl.enable(), vnet);
  }

  async connections(rules: BalancerRules, vnet: Vnet): Promise<ConnectionCounts> {
    const counts: ConnectionCounts = new Map();
    if (rules.services.length === 0) return counts;
    for (const state of parsePfStates((await this.run(pfctl.states(), vnet, { reads: true })).stdout)) {
      if (!state.original || (state.protocol !== 'tcp' && state.protocol !== 'udp')) continue;
      const service = { protocol: state.protocol as LbProtocol, address: state.original.address, port: state.original.port };
      const key = connectionKey(service, state.translated);
      const entry = counts.get(key) ?? { active: 0, inactive: 0 };
      if (state.state === 'ESTABLISHED:ESTABLISHED') entry.active += 1;
      else entry.inactive += 1;
      counts.set(key, entry);
    }
    return counts;
  }

  async timeouts(rules: BalancerRules): Promise<Timeouts> {
    return withDefaults(rules.timeouts ?? { tcp: 0, tcpfin: 0, udp: 0 }, PF_DEFAULT_TIMEOUTS);
  }

  async drift(rules: BalancerRules, vnet: Vnet): Promise<string | undefined> {
    if (isEmptyRules(rules)) return undefined;
    const info = await this.run(pfctl.info(), vnet, { reads: true, allowFailure: true });
    const lines = async (anchor: string) => {
      const shown = await this.run(pfctl.show(anchor, 'nat'), vnet, { reads: true, allowFailure: true });
      // An anchor no rule was ever loaded into does not exist (pfctl: "pfctl: Anchor does not exist.").
      return shown.exitCode === 0 ? parsePfLines(shown.stdout) : [];
    };
    return pfBalancerDrift({ enabled: pfEnabled(info.stdout), mainNat: await lines(''), anchorNat: await lines(BALANCER_ANCHOR) }, rules);
  }

  /** pfctl -k matches a state's addresses, not its protocol: every flow to the address ends. */
  async killFlows(address: string, _protocol: LbProtocol, vnet: Vnet): Promise<number> {
    return parseKilledStates((await this.run(pfctl.kill('0.0.0.0/0', address), vnet)).stderr);
  }
}

