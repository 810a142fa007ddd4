// A pod's load balancer on Linux, rendered as nftables in the pod's own netns: the table
// `ip jailnet-lb` holds a verdict map from VIP . protocol . port to one chain per virtual
// service, hooked at nat output (connections the pod's containers open) and nat
// prerouting (connections arriving at the pod). A service's chain DNATs new connections:
//   rr   numgen inc mod N over the servers (weights ignored, weight 0 left out)
//   wrr  numgen inc mod sum(weights), each server owning a range as wide as its weight
//   sh   jhash of the client address mod sum(weights): one client, one server
// Persistence (-p T) puts a client's server in a map with timeout T, read before
// scheduling; a scheduled connection records its choice through a chain per server.
// `--set` becomes ct timeout objects set on connections to the services at raw priority.
// Each change is one `nft -f -` transaction that touches only the services that changed,
// so the others keep their round-robin position and their clients. Pure: rules in, text out.
import { BALANCER_NFT_TABLE } from '../../persistent-names.js';
import { isEmptyRules as isEmpty, servicesGone, type BalancerRules, type RealServer, type ServiceKey, type Timeouts, type VirtualService } from '../../balancer/rules.js';
import type { NftState } from './nft-table.js';

const T = `ip ${BALANCER_NFT_TABLE}`;
export const LINUX_SCHEDULERS = ['rr', 'wrr', 'sh'] as const;

const base = (s: ServiceKey) => `${s.protocol}-${s.address}-${s.port}`;
const serviceChain = (s: ServiceKey) => `svc-${base(s)}`;
const serverChain = (s: ServiceKey, index: number) => `svc-${base(s)}-${index}`;
const stickyMap = (s: ServiceKey) => `sticky-${base(s)}`;
const element = (s: ServiceKey) => `${s.address} . ${s.protocol} . ${s.port}`;

/** The servers that take new connections, each with the width of its share. */
function shares(service: VirtualService): Array<{ server: RealServer; width: number }> {
  const usable = service.servers.filter((r) => r.weight > 0);
  return usable.map((server) => ({ server, width: service.scheduler === 'rr' ? 1 : server.weight }));
}

/** `0-2 : X, 3 : Y`: each share's slice of [0, total). */
function slices<T>(parts: Array<{ width: number; value: T }>): Array<{ range: string; value: T }> {
  let start = 0;
  return parts.map(({ width, value }) => {
    const range = width === 1 ? `${start}` : `${start}-${start + width - 1}`;
    start += width;
    return { range, value };
  });
}

function selector(service: VirtualService, total: number): string {
  return service.scheduler === 'sh' ? `jhash ip saddr mod ${total}` : `numgen inc mod ${total}`;
}

const target = (r: RealServer) => `${r.address} . ${r.port}`;

/** The rules of one service's chain (and its per-server chains when persistent). */
function serviceRules(service: VirtualService): string[] {
  const chain = serviceChain(service);
  const l4 = `meta l4proto ${service.protocol}`;
  const parts = shares(service);
  if (parts.length === 0) {
    // IPVS answers a service without a usable server with an unreachable; so does this.
    return [`add rule ${T} ${chain} ${service.protocol === 'tcp' ? 'meta l4proto tcp reject with tcp reset' : 'reject'}`];
  }
  const total = parts.reduce((n, p) => n + p.width, 0);
  if (!service.persistence) {
    const map = slices(parts.map((p) => ({ width: p.width, value: target(p.server) })));
    return [`add rule ${T} ${chain} ${l4} dnat ip addr . port to ${selector(service, total)} map { ${map.map((m) => `${m.range} : ${m.value}`).join(', ')} }`];
  }
  const sticky = stickyMap(service);
  const perServer = parts.map((p, i) => `add rule ${T} ${serverChain(service, i)} update @${sticky} { ip saddr : ${target(p.server)} } ${l4} dnat ip to ${p.server.address}:${p.server.port}`);
  const vmap = slices(parts.map((p, i) => ({ width: p.width, value: `jump ${serverChain(service, i)}` })));
  return [
    ...perServer,
    `add rule ${T} ${chain} ${l4} dnat ip addr . port to ip saddr map @${sticky}`,
    `add rule ${T} ${chain} ${selector(service, total)} vmap { ${vmap.map((m) => `${m.range} : ${m.value}`).join(', ')} }`,
  ];
}

/** Declares a service's chains and map, fills them and puts it in the dispatch map. */
function addService(service: VirtualService): string[] {
  const persistent = service.persistence !== undefined && shares(service).length > 0;
  const servers = persistent ? shares(service).map((_, i) => `add chain ${T} ${serverChain(service, i)}`) : [];
  const map = persistent ? [`add map ${T} ${stickyMap(service)} { type ipv4_addr : ipv4_addr . inet_service; flags timeout; timeout ${service.persistence}s; size 65536; }`] : [];
  return [
    `add chain ${T} ${serviceChain(service)}`,
    ...servers,
    ...map,
    ...serviceRules(service),
    `add element ${T} services { ${element(service)} : jump ${serviceChain(service)} }`,
    `add element ${T} vips { ${element(service)} }`,
  ];
}

/** Takes a service out of the dispatch map and removes what it had, in an order nft accepts. */
function removeService(service: VirtualService): string[] {
  const persistent = service.persistence !== undefined && shares(service).length > 0;
  const servers = persistent ? shares(service).map((_, i) => serverChain(service, i)) : [];
  return [
    `delete element ${T} services { ${element(service)} }`,
    `delete element ${T} vips { ${element(service)} }`,
    `flush chain ${T} ${serviceChain(service)}`,
    ...servers.map((c) => `flush chain ${T} ${c}`),
    `delete chain ${T} ${serviceChain(service)}`,
    ...servers.map((c) => `delete chain ${T} ${c}`),
    ...(persistent ? [`delete map ${T} ${stickyMap(service)}`] : []),
  ];
}

const sameRules = (a: VirtualService, b: VirtualService) => JSON.stringify(a) === JSON.stringify(b);
const keyOf = (s: ServiceKey) => element(s);

const DISPATCH = 'ip daddr . meta l4proto . th dport';

/** The table with its hooks and dispatch map and nothing else; replaces whatever was there. */
function freshTable(): string[] {
  return [
    `add table ${T}`,
    `delete table ${T}`,
    `add table ${T}`,
    `add map ${T} services { type ipv4_addr . inet_proto . inet_service : verdict; }`,
    // The same keys as a plain set: a filter chain may not look up a map whose verdicts jump to nat chains.
    `add set ${T} vips { type ipv4_addr . inet_proto . inet_service; }`,
    `add chain ${T} output { type nat hook output priority -100; policy accept; }`,
    `add chain ${T} prerouting { type nat hook prerouting priority -100; policy accept; }`,
    `add rule ${T} output ${DISPATCH} vmap @services`,
    `add rule ${T} prerouting ${DISPATCH} vmap @services`,
  ];
}

const timeoutName = (protocol: 'tcp' | 'udp', t: Timeouts) => (protocol === 'tcp' ? `timeout-tcp-${t.tcp}-${t.tcpfin}` : `timeout-udp-${t.udp}`);

function timeoutObjects(t: Timeouts): string[] {
  return [
    `add ct timeout ${T} ${timeoutName('tcp', t)} { protocol tcp; l3proto ip; policy = { established: ${t.tcp}, fin_wait: ${t.tcpfin} }; }`,
    `add ct timeout ${T} ${timeoutName('udp', t)} { protocol udp; l3proto ip; policy = { unreplied: ${t.udp}, replied: ${t.udp} }; }`,
  ];
}

/** The connection timeouts of `--set`, on connections to the services only; `undefined` removes them. */
function timeoutRules(previous: Timeouts | undefined, next: Timeouts | undefined): string[] {
  const chains = ['raw-output', 'raw-prerouting'];
  const hooks = { 'raw-output': 'output', 'raw-prerouting': 'prerouting' } as Record<string, string>;
  const lines = chains.flatMap((c) => [`add chain ${T} ${c} { type filter hook ${hooks[c]} priority -300; policy accept; }`, `flush chain ${T} ${c}`]);
  // An object nft already has is kept as it was (no update for ct timeout): names carry the values.
  const old = previous ? [...timeoutObjects(previous), `delete ct timeout ${T} ${timeoutName('tcp', previous)}`, `delete ct timeout ${T} ${timeoutName('udp', previous)}`] : [];
  if (!next) return [...lines, ...old, ...chains.map((c) => `delete chain ${T} ${c}`)];
  const set = chains.flatMap((c) =>
    (['tcp', 'udp'] as const).map((p) => `add rule ${T} ${c} meta l4proto ${p} ${DISPATCH} @vips ct timeout set "${timeoutName(p, next)}"`),
  );
  return [...lines, ...old, ...timeoutObjects(next), ...set];
}

/**
 * The one transaction that turns `previous` into `next`, where `effective` gives the
 * timeouts in force (zeros filled from the host's). Empty `next`: the table goes.
 */
export function balancerScript(previous: BalancerRules, next: BalancerRules, effective: (t: Timeouts) => Timeouts): string {
  if (isEmpty(next)) return [`add table ${T}`, `delete table ${T}`, ''].join('\n');
  const before = isEmpty(previous) ? { services: [] } : previous;
  const lines = isEmpty(previous) ? freshTable() : [];
  const oldByKey = new Map(before.services.map((s) => [keyOf(s), s]));
  const newByKey = new Map(next.services.map((s) => [keyOf(s), s]));
  for (const old of before.services) {
    const now = newByKey.get(keyOf(old));
    if (!now || !sameRules(old, now)) lines.push(...removeService(old));
  }
  for (const now of next.services) {
    const old = oldByKey.get(keyOf(now));
    if (!old || !sameRules(old, now)) lines.push(...addService(now));
  }
  const [oldT, newT] = [previous.timeouts, next.timeouts];
  if (JSON.stringify(oldT) !== JSON.stringify(newT)) lines.push(...timeoutRules(oldT && effective(oldT), newT && effective(newT)));
  return [...lines, ''].join('\n');
}

/**
 * What of `rules` the table read back (`nft -j list table ip jailnet-lb`) lacks: the table,
 * its two hooks' dispatch rules, each service's element and its chain's rules. Pure.
 */
export function nftBalancerDrift(state: NftState, rules: BalancerRules): string | undefined {
  if (isEmpty(rules)) return undefined;
  if (!state.exists) return `the load balancer's table ${T} is gone`;
  const hooks = ['output', 'prerouting'].filter((chain) => !state.rules.some((r) => r.chain === chain));
  if (hooks.length > 0) return `the load balancer's ${hooks.join(' and ')} hook${hooks.length > 1 ? 's are' : ' is'} gone`;
  const dispatched = new Set((state.maps.get('services') ?? []).map((e) => e.key));
  const missing = rules.services.filter((s) => !dispatched.has(element(s)) || !state.rules.some((r) => r.chain === serviceChain(s)));
  return missing.length === 0 ? undefined : servicesGone(missing);
}
