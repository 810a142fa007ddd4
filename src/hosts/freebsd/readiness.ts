// `jailnet status` on FreeBSD: the kernel modules, pf enabled, the pf.conf lines that hook
// jailnet's anchors and masquerade <cni-nat> (IPv6 too where a network masquerades it),
// and the sysctls pods need — each with the line that fixes it.
import { readinessCheck as check, type ReadinessCheck, type ReadinessNeeds, type Remedy } from '../host.js';
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

/** pf's translation lines: nat-anchor and rdr-anchor hooks, and the masquerade of <cni-nat>. */
async function pfConfChecks(host: FreeBSDHost, pfLoaded: boolean, needs: ReadinessNeeds): Promise<ReadinessCheck[]> {
  const extIf = await uplink(host);
  const nat = pfLoaded ? await host.filter.mainNatLines() : [];
  const hooks = [`rdr-anchor "${RDR_ANCHOR_PARENT}/*"`, `nat-anchor "${RDR_ANCHOR_PARENT}/*"`];
  // A rule without a family translates both.
  const masquerades = (af: 'inet' | 'inet6') =>
    nat.some((line) => line.startsWith('nat on ') && line.includes(`from <${MASQUERADE_TABLE}>`) && [undefined, af].includes(/ (inet6?) /.exec(line)?.[1] as typeof af | undefined));
  const base = [`ext_if = "${extIf}"`, `table <${MASQUERADE_TABLE}> persist`];
  const v4 = `nat on $ext_if inet from <${MASQUERADE_TABLE}> to any -> ($ext_if)`;
  // Multicast keeps its source (podman's pf.conf.sample, files/ of sysutils/podman).
  const v6 = `nat on $ext_if inet6 from <${MASQUERADE_TABLE}> to ! ff00::/8 -> ($ext_if)`;
  const checks = [
    check(`pf.conf hooks the ${RDR_ANCHOR_PARENT}/* anchors`, hooks.every((hook) => nat.some((line) => line.startsWith(hook))), `add ${hooks.join(' and ')} to /etc/pf.conf, then pfctl -f /etc/pf.conf`, [
      pfConf(...hooks, `anchor "${ISOLATION_ANCHOR}"`),
    ]),
    check(`pf.conf masquerades <${MASQUERADE_TABLE}>`, masquerades('inet'), `add ${v4} and table <${MASQUERADE_TABLE}> to /etc/pf.conf`, [pfConf(...base, v4)]),
  ];
  if (needs.ipv6Masquerade) {
    checks.push(check(`pf.conf masquerades <${MASQUERADE_TABLE}> for IPv6`, masquerades('inet6'), `add ${v6} to /etc/pf.conf (a network masquerades IPv6)`, [pfConf(...base, v6)]));
  }
  return checks;
}

const SYSCTLS = [
  ['net.inet.ip.forwarding', 'sysctl net.inet.ip.forwarding=1 (gateway_enable="YES" in rc.conf)', rcConf('gateway_enable="YES"')],
  ['net.pf.filter_local', 'sysctl net.pf.filter_local=1 (in /etc/sysctl.conf) so the host reaches published ports', sysctlConf('net.pf.filter_local=1')],
] as const;

const IPV6_FORWARDING = ['net.inet6.ip6.forwarding', 'sysctl net.inet6.ip6.forwarding=1 (ipv6_gateway_enable="YES" in rc.conf)', rcConf('ipv6_gateway_enable="YES"')] as const;

export async function freebsdReadiness(host: FreeBSDHost, needs: ReadinessNeeds): Promise<ReadinessCheck[]> {
  const checks: ReadinessCheck[] = [];
  for (const module of ['if_bridge', 'if_epair', 'pf']) {
    checks.push(check(`${module} loaded`, await host.isModuleLoaded(module), `kldload ${module} (and kld_list+="${module}" in rc.conf)`, [{ module }, rcConf(`kld_list+="${module}"`)]));
  }
  const pfLoaded = checks[2]?.ok ?? false;
  checks.push(check('pf enabled', pfLoaded && (await host.filter.enabled()), 'pfctl -e (and pf_enable="YES" in rc.conf)', [rcConf('pf_enable="YES"')]));
  checks.push(...(await pfConfChecks(host, pfLoaded, needs)));
  for (const [key, fix, persist] of needs.ipv6Forwarding ? [...SYSCTLS, IPV6_FORWARDING] : SYSCTLS) {
    checks.push(check(`${key}=1`, (await host.sysctlGet(key).catch(() => '')) === '1', fix, [{ sysctl: { name: key, value: '1' } }, persist]));
  }
  return checks;
}
