// route(8) and netstat -rn: static routes per vnet beside the connected and local
// routes that interface addresses imply.
import { formatIP, networkAddress, parseIP, parsePrefix, prefixContains, type IP } from '../../../dist/ipam/ip.js';
import { ToolError, contextVnet, ifacesIn, lookupJail, mayConfigureNetwork, vnetOf } from './model.js';
import type { Iface, SimState, StaticRoute } from './state.js';
import { ok, releaseHasJailFlag, type ToolContext, type ToolOutput } from './tool.js';

// route.c usage(): warnx("bad keyword: %s") for a word it does not know, then
// errx(EX_USAGE, "usage: …"), so both lines carry the program's name; exit 64.
const ROUTE_USAGE = 'route: usage: route [-j jail] [-46dnqtv] command [[modifiers] args]\n';
const EX_USAGE = 64;
/** sysexits.h: route.c getaddr ends in errx(EX_NOHOST, "bad address: %s"). */
const EX_NOHOST = 68;

function usage(badKeyword?: string): never {
  throw new ToolError(`${badKeyword !== undefined ? `route: bad keyword: ${badKeyword}\n` : ''}${ROUTE_USAGE}`, EX_USAGE);
}

function badAddress(text: string): never {
  throw new ToolError(`route: bad address: ${text}\n`, EX_NOHOST);
}

/** route.c keywords.h: the modifiers a `-word` may name (others are "bad keyword"). */
const MODIFIERS = new Set(['4', '6', 'blackhole', 'cloning', 'dst', 'expire', 'fib', 'gateway', 'genmask', 'host', 'hopcount', 'iface', 'interface', 'ifa', 'ifp', 'inet', 'inet6', 'link', 'lock', 'lockrest', 'mtu', 'net', 'netmask', 'nostatic', 'nostick', 'prefixlen', 'proto1', 'proto2', 'proto3', 'recvpipe', 'reject', 'rtt', 'rttvar', 'sa', 'sendpipe', 'ssthresh', 'static', 'sticky', 'weight', 'xresolve']);

export interface RouteEntry {
  family: 4 | 6;
  destination: string;
  /** The prefix the entry matches; undefined for default. */
  prefix?: { ip: IP; bits: number };
  gateway: string;
  flags: string;
  netif: string;
  /** Where a packet goes: the gateway address, or direct on the interface. */
  nextHop?: IP;
  iface?: Iface;
}

function loopback(state: SimState, vnet: string): Iface | undefined {
  return ifacesIn(state, vnet).find((i) => i.cloner === 'lo' && i.name === 'lo0');
}

/** Connected, local and static routes of a vnet, in netstat's order. */
export function routeTable(state: SimState, vnetId: string): RouteEntry[] {
  const vnet = vnetOf(state, vnetId);
  const lo = loopback(state, vnetId);
  const entries: RouteEntry[] = [];
  for (const route of vnet.routes) {
    const prefix = route.destination === 'default' ? undefined : parsePrefix(route.destination) ?? undefined;
    const iface = ifacesIn(state, vnetId).find((i) => i.name === route.netif);
    entries.push({
      family: route.family,
      destination: route.destination,
      prefix: prefix ?? undefined,
      gateway: route.gateway,
      flags: route.host ? 'UGHS' : 'UGS',
      netif: route.netif,
      nextHop: parseIP(route.gateway) ?? undefined,
      iface,
    });
  }
  for (const iface of ifacesIn(state, vnetId)) {
    if (!iface.up) continue;
    const addresses = [
      ...iface.inet.map((a) => ({ ...a, family: 4 as const })),
      ...iface.inet6.filter((a) => !a.linkLocal).map((a) => ({ ...a, family: 6 as const })),
    ];
    for (const { address, prefix, family } of addresses) {
      const ip = parseIP(address)!;
      const hostBits = family === 4 ? 32 : 128;
      if (iface.cloner === 'lo') {
        // lo0's own addresses: 127.0.0.1 shows as UH, ::1 as UHS.
        entries.push({ family, destination: address, prefix: { ip, bits: hostBits }, gateway: `link#${iface.ifindex}`, flags: family === 4 ? 'UH' : 'UHS', netif: iface.name, iface });
        continue;
      }
      if (prefix < hostBits) {
        const net = networkAddress({ ip, bits: prefix });
        entries.push({ family, destination: `${formatIP(net)}/${prefix}`, prefix: { ip: net, bits: prefix }, gateway: `link#${iface.ifindex}`, flags: 'U', netif: iface.name, iface });
      }
      // ifa_maintain_loopback_route (sys/net/if.c): the gateway is a link address of the
      // interface that owns the address (link_init_sdl of ifa_ifp), the route goes out lo0.
      if (lo) entries.push({ family, destination: address, prefix: { ip, bits: hostBits }, gateway: `link#${iface.ifindex}`, flags: 'UHS', netif: lo.name, iface: lo });
    }
  }
  return entries;
}

/** Longest-prefix match; default routes last. */
export function lookupRoute(state: SimState, vnetId: string, dst: IP): RouteEntry | undefined {
  const candidates = routeTable(state, vnetId).filter((r) => r.family === dst.family);
  let best: RouteEntry | undefined;
  for (const r of candidates) {
    if (r.destination === 'default') {
      if (!best) best = r;
      continue;
    }
    if (r.prefix && prefixContains(r.prefix, dst) && (!best || best.destination === 'default' || (best.prefix?.bits ?? -1) < r.prefix.bits)) best = r;
  }
  return best;
}

function sortKey(entry: RouteEntry): [number, bigint] {
  if (entry.destination === 'default') return [0, 0n];
  return [1, entry.prefix?.ip.value ?? 0n];
}

export function netstat(ctx: ToolContext, argv: string[]): ToolOutput {
  let args = [...argv];
  let vnet = contextVnet(ctx.state, ctx.callerJid);
  const families = new Set<4 | 6>([4, 6]);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '-j') {
      const jail = lookupJail(ctx.state, args[i + 1] ?? '', ctx.callerJid);
      if (!jail) throw new ToolError(`netstat: jail "${args[i + 1]}" not found\n`, 1);
      vnet = jail.vnetId;
      i++;
    } else if (arg === '-4') families.delete(6);
    else if (arg === '-6') families.delete(4);
    else if (arg === '-f') {
      const family = args[++i];
      if (family === 'inet') families.delete(6);
      else if (family === 'inet6') families.delete(4);
    } else if (!/^-[rnW]+$/.test(arg)) {
      throw new ToolError(`netstat: illegal option -- ${arg.replace(/^-/, '').slice(0, 1)}\n`, 1);
    }
  }
  args = [];
  const table = routeTable(ctx.state, vnet).sort((a, b) => {
    const [ka, va] = sortKey(a);
    const [kb, vb] = sortKey(b);
    return ka - kb || (va < vb ? -1 : va > vb ? 1 : 0);
  });
  const lines = ['Routing tables'];
  if (families.has(4)) {
    lines.push('', 'Internet:', 'Destination        Gateway            Flags     Netif Expire');
    for (const r of table.filter((e) => e.family === 4)) {
      lines.push(`${r.destination.padEnd(18)} ${r.gateway.padEnd(18)} ${r.flags.padEnd(6)} ${r.netif.padStart(8)}`);
    }
  }
  if (families.has(6)) {
    lines.push('', 'Internet6:', 'Destination                       Gateway                       Flags     Netif Expire');
    for (const r of table.filter((e) => e.family === 6)) {
      lines.push(`${r.destination.padEnd(33)} ${r.gateway.padEnd(29)} ${r.flags.padEnd(6)} ${r.netif.padStart(8)}`);
    }
  }
  return ok(lines.join('\n') + '\n');
}

interface RouteArgs {
  family: 4 | 6 | undefined;
  host: boolean;
  iface: boolean;
  destination?: string;
  gateway?: string;
  netmask?: string;
}

function parseRouteArgs(args: string[], family: 4 | 6 | undefined): RouteArgs {
  const out: RouteArgs = { family, host: false, iface: false };
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '-net') out.host = false;
    else if (arg === '-host') out.host = true;
    else if (arg === '-inet' || arg === '-4') out.family = 4;
    else if (arg === '-inet6' || arg === '-6') out.family = 6;
    else if (arg === '-iface' || arg === '-interface') out.iface = true;
    else if (arg === '-netmask') out.netmask = args[++i];
    else if (['-ifp', '-ifa', '-mtu', '-fib', '-expire', '-weight', '-gateway', '-genmask', '-hopcount', '-recvpipe', '-sendpipe', '-ssthresh', '-rtt', '-rttvar', '-prefixlen'].includes(arg)) i++;
    else if (arg.startsWith('-') && !MODIFIERS.has(arg.slice(1))) usage(arg.slice(1));
    else if (!arg.startsWith('-')) positional.push(arg);
  }
  [out.destination, out.gateway] = positional;
  return out;
}

function normaliseDestination(text: string, parsed: RouteArgs): { destination: string; family: 4 | 6; host: boolean } {
  if (text === 'default') return { destination: 'default', family: parsed.family ?? 4, host: false };
  const prefix = text.includes('/') ? parsePrefix(text) : null;
  const ip = prefix?.ip ?? parseIP(text);
  if (!ip) badAddress(text);
  if (prefix) return { destination: `${formatIP(networkAddress(prefix))}/${prefix.bits}`, family: ip.family, host: false };
  if (parsed.netmask) {
    const mask = parseIP(parsed.netmask);
    const bits = mask ? mask.value.toString(2).replace(/0+$/, '').length : 32;
    return { destination: `${formatIP(networkAddress({ ip, bits }))}/${bits}`, family: ip.family, host: false };
  }
  return { destination: formatIP(ip), family: ip.family, host: true };
}

function kind(host: boolean, destination: string): string {
  return `${host ? 'host' : 'net'} ${destination}`;
}

function add(ctx: ToolContext, vnetId: string, parsed: RouteArgs): ToolOutput {
  if (!parsed.destination || !parsed.gateway) usage();
  const { destination, family, host } = normaliseDestination(parsed.destination, parsed);
  const vnet = vnetOf(ctx.state, vnetId);
  const label = `add ${kind(host || parsed.host, destination)}: gateway ${parsed.gateway}`;
  let netif: string;
  if (parsed.iface) {
    const iface = ifacesIn(ctx.state, vnetId).find((i) => i.name === parsed.gateway);
    if (!iface) badAddress(parsed.gateway);
    netif = iface.name;
  } else {
    const gw = parseIP(parsed.gateway);
    if (!gw) badAddress(parsed.gateway);
    const via = lookupRoute(ctx.state, vnetId, gw);
    if (!via || via.flags.includes('G')) {
      throw new ToolError('route: message indicates error: Network is unreachable\n', 1, `${label} fib 0: Network is unreachable\n`);
    }
    netif = via.netif;
  }
  if (vnet.routes.some((r) => r.family === family && r.destination === destination)) {
    throw new ToolError('route: message indicates error: File exists\n', 1, `${label} fib 0: route already in table\n`);
  }
  const route: StaticRoute = { family, destination, gateway: parsed.gateway, netif, host: host || parsed.host };
  vnet.routes.push(route);
  return ok(`${label}\n`);
}

function remove(ctx: ToolContext, vnetId: string, parsed: RouteArgs): ToolOutput {
  if (!parsed.destination) usage();
  const { destination, family, host } = normaliseDestination(parsed.destination, parsed);
  const vnet = vnetOf(ctx.state, vnetId);
  const index = vnet.routes.findIndex((r) => r.family === family && r.destination === destination);
  const label = `delete ${kind(host || parsed.host, destination)}`;
  if (index < 0) throw new ToolError('route: route has not been found\n', 1, `${label}: not in table\n`);
  vnet.routes.splice(index, 1);
  return ok(`${label}\n`);
}

function get(ctx: ToolContext, vnetId: string, parsed: RouteArgs): ToolOutput {
  const target = parsed.destination ?? '';
  const family = parsed.family ?? (target.includes(':') ? 6 : 4);
  const entry =
    target === 'default'
      ? routeTable(ctx.state, vnetId).find((r) => r.destination === 'default' && r.family === family)
      : (() => {
          const ip = parseIP(target);
          if (!ip) badAddress(target);
          return lookupRoute(ctx.state, vnetId, ip);
        })();
  if (!entry) throw new ToolError('route: route has not been found\n', 1);
  const isDefault = entry.destination === 'default';
  const zero = family === 4 ? '0.0.0.0' : '::';
  const routeTo = target === 'default' ? zero : target;
  const destination = isDefault ? zero : formatIP(entry.prefix!.ip);
  const bits = isDefault ? 0 : entry.prefix!.bits;
  const mask = family === 4 ? formatIP({ family: 4, value: bits === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - bits)) - 1n) }) : `${bits}`;
  const flags = entry.flags.includes('G') ? '<UP,GATEWAY,DONE,STATIC>' : entry.flags.includes('H') ? '<UP,HOST,DONE,STATIC>' : '<UP,DONE,PINNED>';
  const lines = [
    `   route to: ${routeTo}`,
    `destination: ${destination}`,
    ...(bits < (family === 4 ? 32 : 128) ? [`       mask: ${mask}`] : []),
    ...(entry.flags.includes('G') ? [`    gateway: ${entry.gateway}`] : []),
    '        fib: 0',
    `  interface: ${entry.netif}`,
    `      flags: ${flags}`,
    ' recvpipe  sendpipe  ssthresh  rtt,msec    mtu        weight    expire',
    [0, 0, 0, 0, entry.iface?.mtu ?? 1500, 1, 0].map((v) => String(v).padStart(8)).join('  '),
  ];
  return ok(lines.join('\n') + '\n');
}

/**
 * route.c monitor(): its operands are options, `-fib N` only; anything else is
 * usage(operand) [inf: from route.c's monitor() as remembered, not a captured run]. The
 * simulated host has one fib, so only `-fib 0` names one.
 */
function monitorOperands(operands: string[]): ToolOutput {
  for (let i = 0; i < operands.length; i++) {
    if (operands[i] === '-fib' && operands[i + 1] === '0') i++;
    else usage(operands[i]);
  }
  return ok('');
}

export function route(ctx: ToolContext, argv: string[]): ToolOutput {
  let vnetId = contextVnet(ctx.state, ctx.callerJid);
  let family: 4 | 6 | undefined;
  let quiet = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-j') {
      if (!releaseHasJailFlag(ctx.state.release)) throw new ToolError(`route: illegal option -- j\n${ROUTE_USAGE}`, EX_USAGE);
      const jail = lookupJail(ctx.state, argv[i + 1] ?? '', ctx.callerJid);
      if (!jail) throw new ToolError('route: jail not found: No such file or directory\n', 1);
      vnetId = jail.vnetId;
      i++;
    } else if (/^-[46dnqtv]+$/.test(arg)) {
      if (arg.includes('4')) family = 4;
      if (arg.includes('6')) family = 6;
      if (arg.includes('q')) quiet = true;
    } else if (arg.startsWith('-')) {
      throw new ToolError(`route: illegal option -- ${arg.slice(1, 2)}\n${ROUTE_USAGE}`, EX_USAGE);
    } else break;
  }
  const command = argv[i];
  const parsed = parseRouteArgs(argv.slice(i + 1), family);
  const attachedJid = argv[0] === '-j' ? (lookupJail(ctx.state, argv[1] ?? '', ctx.callerJid)?.jid ?? ctx.callerJid) : ctx.callerJid;
  if ((command === 'add' || command === 'delete') && !mayConfigureNetwork(ctx.state, attachedJid)) {
    throw new ToolError('route: message indicates error: Operation not permitted\n', 1);
  }
  let result: ToolOutput;
  if (command === 'add') result = add(ctx, vnetId, parsed);
  else if (command === 'delete') result = remove(ctx, vnetId, parsed);
  else if (command === 'get' || command === 'show') result = get(ctx, vnetId, parsed);
  // What `monitor` prints comes after this step (monitor.ts).
  else if (command === 'monitor') result = monitorOperands(argv.slice(i + 1));
  else usage(command);
  return quiet && command !== 'get' && command !== 'show' ? ok('', result.stderr) : result;
}

