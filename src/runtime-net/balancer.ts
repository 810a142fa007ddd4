// kata-ipvs on a running pod: ipvsadm commands, restore and cleanup (runtime-network-api.md
// §1.7–1.8). The rules live in the pod's record; every change is checked in full as data
// (grammar, ranges, ipvsadm's semantics, the 20,000-rule limit, the host's schedulers)
// before the host sees it, applied as one transaction under the pod's lock, and recorded
// only once applied. Reads (--list, --save) take no lock, as the contract's shared lock
// lets them run beside each other.
import { parseIpvsadm, splitParameters, type IpvsCommand } from '../balancer/ipvsadm.js';
import { listText, saveText, timeoutText } from '../balancer/listing.js';
import { restoreRules } from '../balancer/restore.js';
import { applyChange, BalancerError, emptyRules, sameService, type BalancerRules, type LbProtocol } from '../balancer/rules.js';
import { parseIP } from '../ipam/ip.js';
import type { Host } from '../hosts/host.js';
import type { PodContext } from '../pods/pods.js';
import type { PodRecord } from '../pods/store.js';
import { lockedPod, networkOwner } from './resolve.js';

/** IPVS's schedulers (the contract's list): a name outside it is unknown, one inside it may still be one this host lacks. */
const IPVS_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq'];

const rulesOf = (record: PodRecord): BalancerRules => record.runtime.balancer ?? emptyRules();

function checkForHost(host: Host, rules: BalancerRules): void {
  for (const { scheduler } of rules.services) {
    if (!IPVS_SCHEDULERS.includes(scheduler)) throw new BalancerError('Scheduler or persistence engine not found');
    if (!host.balancer.schedulers.includes(scheduler)) {
      throw new BalancerError(`scheduler ${scheduler} is not offered by jailnet's ${host.kind} load balancer: use one of ${host.balancer.schedulers.join(', ')}`);
    }
  }
  host.balancer.check?.(rules);
}

/** Makes the pod's balancer `next` (already checked as data), then records it. */
async function change(ctx: PodContext, record: PodRecord, next: BalancerRules): Promise<void> {
  checkForHost(ctx.host, next);
  await ctx.host.balancer.apply(rulesOf(record), next, record.jail);
  record.runtime.balancer = next;
  await ctx.store.write(record);
}

async function read(ctx: PodContext, id: string, command: IpvsCommand & { kind: 'list' | 'save' }): Promise<string> {
  const owner = await networkOwner(ctx, id);
  const rules = rulesOf(owner);
  if (command.kind === 'save') return saveText(rules);
  if (command.timeouts) return timeoutText(await ctx.host.balancer.timeouts(rules, owner.jail));
  const only = command.service ? rules.services.find((s) => sameService(s, command.service as typeof s)) : undefined;
  if (command.service && !only) throw new BalancerError('No such service');
  return listText(rules, await ctx.host.balancer.connections(rules, owner.jail), only);
}

/** `kata-ipvs ipvsadm --parameters "…" ID`: what ipvsadm would print (nothing for a change). */
export async function runIpvsadm(ctx: PodContext, id: string, parameters: string): Promise<string> {
  const command = parseIpvsadm(splitParameters(parameters));
  if (command.kind === 'list' || command.kind === 'save') return read(ctx, id, command);
  return lockedPod(ctx, id, async (record) => {
    await change(ctx, record, applyChange(rulesOf(record), command));
    return '';
  });
}

/** `kata-ipvs ipvsadm --restore - ID`: a batch in one transaction, onto a pod without rules unless `replace`. */
export async function restoreIpvs(ctx: PodContext, id: string, text: string, options: { replace: boolean }): Promise<number> {
  return lockedPod(ctx, id, async (record) => {
    const next = restoreRules(rulesOf(record), text, options, ctx.progress);
    await change(ctx, record, next);
    return next.services.length;
  });
}

/** `--orig-dst A.B.C.D --protonum tcp|udp` (or `-d`, `-p`), anchored: conntrack's options as the contract's cleanup takes them. */
export function parseCleanup(parameters: string): { address: string; protocol: LbProtocol } {
  const words = splitParameters(parameters);
  const usage = 'cleanup takes --orig-dst ADDRESS --protonum tcp|udp';
  const values = new Map<string, string>();
  for (let i = 0; i < words.length; i += 2) {
    const option = { '--orig-dst': 'address', '-d': 'address', '--protonum': 'protocol', '-p': 'protocol' }[words[i] as string];
    const value = words[i + 1];
    if (!option || value === undefined || values.has(option)) throw new BalancerError(usage);
    values.set(option, value);
  }
  const address = values.get('address');
  const protocol = values.get('protocol');
  if (!address || !protocol) throw new BalancerError(usage);
  if (parseIP(address)?.family !== 4 || !/^[0-9.]+$/.test(address)) throw new BalancerError(`not an IPv4 address: ${address}`);
  if (protocol !== 'tcp' && protocol !== 'udp') throw new BalancerError(`protocol must be tcp or udp: ${protocol}`);
  return { address, protocol };
}

/** `kata-ipvs cleanup --parameters "…" ID`: ends the tracked flows; conntrack's line about how many. */
export async function cleanupIpvs(ctx: PodContext, id: string, parameters: string): Promise<string> {
  const { address, protocol } = parseCleanup(parameters);
  return lockedPod(ctx, id, async (record) => {
    const count = await ctx.host.balancer.killFlows(address, protocol, record.jail);
    return `${count} flow entries have been deleted.\n`;
  });
}
