// `kata-ipvs ipvsadm --restore -`: rules in ipvsadm-save's short form on stdin, one per
// line, checked in full before anything changes (runtime-network-api.md §1.7): stdin only,
// no blank or comment line (the contract validates every line; ipvsadm itself would skip
// them), at least one rule, at most 20,000 lines, and only onto a pod without rules unless
// the caller asks to replace them. Pure: text and the current rules in, the new rules out.
import { noProgress, type ProgressFactory } from '../util/progress.js';
import { parseIpvsadm, splitParameters } from './ipvsadm.js';
import { applyChange, BalancerError, emptyRules, ruleCount, RULE_LIMIT, type BalancerRules, type RuleChange, type ServiceKey, type VirtualService } from './rules.js';

export function restoreRules(current: BalancerRules, text: string, options: { replace: boolean }, progress: ProgressFactory = noProgress): BalancerRules {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new BalancerError('Rule file has no effective rule.');
  if (lines.length > RULE_LIMIT) throw new BalancerError(`Rules exceed limit ${RULE_LIMIT}`);
  if (!options.replace && ruleCount(current) > 0) throw new BalancerError('exist some rules in system, should clear first');
  const batch = new Batch({ ...emptyRules(), ...(current.timeouts ? { timeouts: current.timeouts } : {}) });
  const reading = progress('reading rules', lines.length);
  try {
    lines.forEach((line, index) => {
      try {
        batch.apply(lineChange(line.replace(/\r$/, '')));
      } catch (error) {
        throw error instanceof BalancerError ? new BalancerError(`line ${index + 1}: ${error.message}`) : error;
      }
      reading.step();
    });
  } finally {
    reading.done();
  }
  return batch.rules();
}

/**
 * Restore's usual lines (adds, as ipvsadm-save writes them) applied through an index, so
 * 20,000 of them take linear time; any other line goes through applyChange on the whole.
 */
class Batch {
  private byKey = new Map<string, VirtualService>();
  private count = 0;
  private timeouts: BalancerRules['timeouts'];

  constructor(start: BalancerRules) {
    this.timeouts = start.timeouts;
  }

  apply(change: RuleChange): void {
    if (change.kind === 'add-service' && !this.byKey.has(serviceKey(change.service)) && this.count < RULE_LIMIT) {
      this.byKey.set(serviceKey(change.service), applyChange(emptyRules(), change).services[0] as VirtualService);
    } else if (change.kind === 'add-server' && this.byKey.has(serviceKey(change.service)) && this.count < RULE_LIMIT) {
      const service = this.byKey.get(serviceKey(change.service)) as VirtualService;
      this.byKey.set(serviceKey(change.service), applyChange({ services: [service] }, change).services[0] as VirtualService);
    } else {
      const after = applyChange(this.rules(), change);
      this.byKey = new Map(after.services.map((s) => [serviceKey(s), s]));
      this.timeouts = after.timeouts;
      this.count = ruleCount(after);
      return;
    }
    this.count += 1;
  }

  rules(): BalancerRules {
    return { services: [...this.byKey.values()], ...(this.timeouts ? { timeouts: this.timeouts } : {}) };
  }
}

const serviceKey = (s: ServiceKey) => `${s.protocol} ${s.address}:${s.port}`;

function lineChange(line: string): RuleChange {
  const argv = splitParameters(line);
  if (argv[0] === 'ipvsadm') argv.shift();
  if (argv.length === 0) throw new BalancerError('a blank line is not a rule');
  if (argv[0]?.startsWith('#')) throw new BalancerError('a comment is not a rule');
  const command = parseIpvsadm(argv, 'required');
  if (command.kind === 'list' || command.kind === 'save') throw new BalancerError(`--${command.kind} is not a rule`);
  return command;
}
