// `jailnet status`: is this host ready for pods? One line per check, with the fix.
import { Command } from 'commander';
import type { Host } from '../hosts/host.js';
import type { CliContext } from './context.js';

export interface Check {
  name: string;
  ok: boolean;
  fix?: string;
}

export async function hostChecks(host: Host): Promise<Check[]> {
  const checks: Check[] = [];
  for (const module of ['if_bridge', 'if_epair', 'pf']) {
    const ok = await host.isModuleLoaded(module);
    checks.push({ name: `${module} loaded`, ok, ...(ok ? {} : { fix: `kldload ${module} (and kld_list+="${module}" in rc.conf)` }) });
  }
  const pfLoaded = checks[2]?.ok ?? false;
  const enabled = pfLoaded && (await host.pfEnabled());
  checks.push({ name: 'pf enabled', ok: enabled, ...(enabled ? {} : { fix: 'pfctl -e (and pf_enable="YES" in rc.conf)' }) });
  const nat = pfLoaded ? await host.showAnchor('', 'nat') : [];
  const hooks = nat.some((l) => /^rdr-anchor "cni-rdr\/\*"/.test(l)) && nat.some((l) => /^nat-anchor "cni-rdr\/\*"/.test(l));
  checks.push({ name: 'pf.conf hooks the cni-rdr/* anchors', ok: hooks, ...(hooks ? {} : { fix: 'add rdr-anchor "cni-rdr/*" and nat-anchor "cni-rdr/*" to /etc/pf.conf, then pfctl -f /etc/pf.conf' }) });
  const masq = nat.some((l) => /^nat on .*from <cni-nat>/.test(l));
  checks.push({ name: 'pf.conf masquerades <cni-nat>', ok: masq, ...(masq ? {} : { fix: 'add nat on $ext_if inet from <cni-nat> to any -> ($ext_if) and table <cni-nat> to /etc/pf.conf' }) });
  for (const [key, fix] of [
    ['net.inet.ip.forwarding', 'sysctl net.inet.ip.forwarding=1 (gateway_enable="YES" in rc.conf)'],
    ['net.pf.filter_local', 'sysctl net.pf.filter_local=1 (in /etc/sysctl.conf) so the host reaches published ports'],
  ] as const) {
    const value = await host.sysctlGet(key).catch(() => '');
    checks.push({ name: `${key}=1`, ok: value === '1', ...(value === '1' ? {} : { fix }) });
  }
  return checks;
}

export function statusCommand(context: CliContext): Command {
  return new Command('status').description('check that this host is ready for pods (only reads; --dry-run changes nothing)').action(async () => {
    // status only reads, and reads are real with --dry-run too.
    const checks = await hostChecks(await context.host());
    context.print(checks, () => checks.map((c) => (c.ok ? `ok    ${c.name}` : `FAIL  ${c.name} — fix: ${c.fix}`)).join('\n'));
    if (checks.some((c) => !c.ok)) context.exitCode = 1;
  });
}
