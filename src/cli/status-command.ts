// `jailnet status [--fix [--apply]]`: is this host ready for pods, and do its pods'
// networks match jailnet's records (repair-command.ts)? One line per check, with the fix. --fix gathers what the failed checks need into what to run now and the
// lines each file must hold (a pf.conf fragment to paste among them); --apply does what
// is safe to do at once — sysctls and kernel modules — and checks again.
import { Command } from 'commander';
import { listNetworks } from '../cni/conflist.js';
import type { Host, ReadinessCheck, ReadinessNeeds } from '../hosts/host.js';
import { dnsChecks } from '../dns/dns-check.js';
import type { CliContext } from './context.js';
import { daemonCheck } from '../daemon/daemon-check.js';
import { bridgePlugin, subnetsOf } from './network-command.js';
import { driftChecks } from './repair-command.js';

export interface FixPlan {
  /** Commands to run now, as the host's tools spell them. */
  now: string[];
  /** Lines each file must hold, in the order the checks give them, each once. */
  files: Record<string, string[]>;
}

/** pf.conf(5)'s required order: macros, tables, options, translation, then filtering. */
function pfSection(line: string): number {
  const word = line.split(/\s+/)[0] ?? '';
  if (/^\w+$/.test(word) && /^\w+\s*=/.test(line)) return 0;
  if (word === 'table') return 1;
  if (word === 'set') return 2;
  return ['nat', 'rdr', 'binat', 'nat-anchor', 'rdr-anchor', 'binat-anchor'].includes(word) ? 3 : 4;
}

/** What the failed checks need, gathered: pure, so the plan is testable as data. */
export function fixPlan(kind: Host['kind'], checks: ReadinessCheck[]): FixPlan {
  const plan: FixPlan = { now: [], files: {} };
  const add = (list: string[], line: string) => list.includes(line) || list.push(line);
  for (const remedy of checks.filter((c) => !c.ok).flatMap((c) => c.remedy ?? [])) {
    if (remedy.module) add(plan.now, kind === 'freebsd' ? `kldload ${remedy.module}` : `modprobe ${remedy.module}`);
    if (remedy.sysctl) add(plan.now, `sysctl ${kind === 'linux' ? '-w ' : ''}${remedy.sysctl.name}=${remedy.sysctl.value}`);
    if (remedy.lines) for (const line of remedy.lines.text) add((plan.files[remedy.lines.file] ??= []), line);
  }
  // Array.prototype.sort is stable: within a section the checks' order stays.
  plan.files['/etc/pf.conf']?.sort((a, b) => pfSection(a) - pfSection(b));
  return plan;
}

const AFTER: Record<string, string> = { '/etc/pf.conf': ' (then: pfctl -f /etc/pf.conf)' };

export function fixText(plan: FixPlan): string {
  if (plan.now.length === 0 && Object.keys(plan.files).length === 0) return 'Nothing to fix.';
  const parts = plan.now.length > 0 ? [`# now (jailnet status --fix --apply runs these):\n${plan.now.join('\n')}`] : [];
  for (const [file, lines] of Object.entries(plan.files)) parts.push(`# ${file}${AFTER[file] ?? ''}:\n${lines.join('\n')}`);
  return parts.join('\n\n');
}

const checkLine = (c: ReadinessCheck) => {
  if (c.note) return `note  ${c.name}${c.fix ? ` — to run it: ${c.fix}` : ''}`;
  return c.ok ? `ok    ${c.name}` : `FAIL  ${c.name} — fix: ${c.fix}`;
};
const checkLines = (checks: ReadinessCheck[]) => checks.map(checkLine).join('\n');

/** What the configured networks ask of the host: IPv6 forwarding and masquerading where a network routes IPv6. */
export function networkNeeds(lists: Array<{ plugins: Array<Record<string, unknown>> }>): ReadinessNeeds {
  const needs: ReadinessNeeds = { ipv6Forwarding: false, ipv6Masquerade: false };
  for (const list of lists) {
    const bridge = bridgePlugin(list);
    if (!bridge || !subnetsOf(list).some((s) => s.includes(':'))) continue;
    if (bridge.isGateway === true) needs.ipv6Forwarding = true;
    if (bridge.ipMasq === true) needs.ipv6Masquerade = true;
  }
  return needs;
}

/** Sets the sysctls and loads the modules the failed checks name; returns what it did. */
async function applySafe(host: Host, checks: ReadinessCheck[]): Promise<string[]> {
  const done: string[] = [];
  for (const remedy of checks.filter((c) => !c.ok).flatMap((c) => c.remedy ?? [])) {
    if (remedy.module && !done.includes(`module ${remedy.module}`)) {
      await host.loadModule(remedy.module);
      done.push(`module ${remedy.module}`);
    }
    if (remedy.sysctl) {
      await host.sysctlSet(remedy.sysctl.name, remedy.sysctl.value);
      done.push(`${remedy.sysctl.name}=${remedy.sysctl.value}`);
    }
  }
  return done;
}

export function statusCommand(context: CliContext): Command {
  return new Command('status')
    .description("check that this host is ready for pods and that pods' networks match jailnet's records (only reads, unless --apply)")
    .option('--fix', 'also print what to run now and the lines each file must hold (a pf.conf fragment to paste)', false)
    .option('--apply', 'with --fix: set the sysctls and load the modules now, then check again', false)
    .action(async (options: { fix: boolean; apply: boolean }) => {
      if (options.apply && !options.fix) throw new Error('--apply goes with --fix');
      const host = await context.host();
      const { lists } = await listNetworks((await context.config()).runtime.cniConfigDir);
      const needs = networkNeeds(lists);
      const daemon = await daemonCheck(host.kind, await context.config(), process.env);
      const allChecks = async () => [...(await host.readiness(needs)), ...(await driftChecks(context)), ...(await dnsChecks(host.kind, lists, process.env)), daemon];
      let checks = await allChecks();
      const applied = options.apply ? await applySafe(host, checks) : [];
      // Without --apply status only reads, so a dry run prints the checks as a run does.
      if (options.apply && context.printPlanIfDry()) return;
      if (applied.length > 0) checks = await allChecks();
      const plan = fixPlan(host.kind, checks);
      const data = options.fix ? { checks, fix: plan, ...(options.apply ? { applied } : {}) } : checks;
      const appliedText = applied.length > 0 ? `applied: ${applied.join(', ')}\n` : '';
      context.print(data, () => `${appliedText}${checkLines(checks)}${options.fix ? `\n\n${fixText(plan)}` : ''}`);
      if (checks.some((c) => !c.ok)) context.exitCode = 1;
    });
}
