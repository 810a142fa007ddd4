// `jailnet status` on FreeBSD: the kernel modules, pf enabled, the pf.conf lines that hook
// jailnet's anchors and masquerade <cni-nat>, and the sysctls pods need — each with the
// line that fixes it.
import { readinessCheck as check, type ReadinessCheck, type Remedy } from '../host.js';
import { ISOLATION_ANCHOR, MASQUERADE_TABLE, RDR_ANCHOR_PARENT } from '../../persistent-names.js';
import type { FreeBSDHost } from './driver.js';

const rcConf = (...text: string[]): Remedy => ({ lines: { file: '/etc/rc.conf', text } });
const pfConf = (...text: string[]): Remedy => ({ lines: { file: '/etc/pf.conf', text } });
const sysctlConf = (...text: string[]): Remedy => ({ lines: { file: '/etc/sysctl.conf', text } });

/** The uplink pf.conf's nat rule names: the interface of the host's IPv4 default route. */
async function uplink(host: FreeBSDHost): Promise<string> {
  const routes = await host.listRoutes().catch(() => []);
  return routes.find((r) => r.family === 4 && r.destination === 'default')?.netif || 'vtnet0';
}

export async function freebsdReadiness(host: FreeBSDHost): Promise<ReadinessCheck[]> {
  const checks: ReadinessCheck[] = [];
  for (const module of ['if_bridge', 'if_epair', 'pf']) {
    checks.push(check(`${module} loaded`, await host.isModuleLoaded(module), `kldload ${module} (and kld_list+="${module}" in rc.conf)`, [{ module }, rcConf(`kld_list+="${module}"`)]));
  }
  const pfLoaded = checks[2]?.ok ?? false;
  checks.push(check('pf enabled', pfLoaded && (await host.filter.enabled()), 'pfctl -e (and pf_enable="YES" in rc.conf)', [rcConf('pf_enable="YES"')]));
  const extIf = await uplink(host);
  const nat = pfLoaded ? await host.filter.mainNatLines() : [];
  const hooks = [`rdr-anchor "${RDR_ANCHOR_PARENT}/*"`, `nat-anchor "${RDR_ANCHOR_PARENT}/*"`];
  checks.push(
    check(
      `pf.conf hooks the ${RDR_ANCHOR_PARENT}/* anchors`,
      hooks.every((hook) => nat.some((line) => line.startsWith(hook))),
      `add ${hooks.join(' and ')} to /etc/pf.conf, then pfctl -f /etc/pf.conf`,
      [pfConf(...hooks, `anchor "${ISOLATION_ANCHOR}"`)],
    ),
  );
  checks.push(
    check(
      `pf.conf masquerades <${MASQUERADE_TABLE}>`,
      nat.some((line) => line.startsWith('nat on ') && line.includes(`from <${MASQUERADE_TABLE}>`)),
      `add nat on $ext_if inet from <${MASQUERADE_TABLE}> to any -> ($ext_if) and table <${MASQUERADE_TABLE}> to /etc/pf.conf`,
      [pfConf(`ext_if = "${extIf}"`, `table <${MASQUERADE_TABLE}> persist`, `nat on $ext_if inet from <${MASQUERADE_TABLE}> to any -> ($ext_if)`)],
    ),
  );
  for (const [key, fix, persist] of [
    ['net.inet.ip.forwarding', 'sysctl net.inet.ip.forwarding=1 (gateway_enable="YES" in rc.conf)', rcConf('gateway_enable="YES"')],
    ['net.pf.filter_local', 'sysctl net.pf.filter_local=1 (in /etc/sysctl.conf) so the host reaches published ports', sysctlConf('net.pf.filter_local=1')],
  ] as const) {
    checks.push(check(`${key}=1`, (await host.sysctlGet(key).catch(() => '')) === '1', fix, [{ sysctl: { name: key, value: '1' } }, persist]));
  }
  return checks;
}
