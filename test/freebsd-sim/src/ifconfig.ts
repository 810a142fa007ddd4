// ifconfig(8) of FreeBSD 14: cloning, renaming, vnet moves, addresses, bridge
// membership, and the status printer, with FreeBSD's error texts and exit codes.
import { formatIP, parseIP } from '../../../dist/ipam/ip.js';
import { formatIface } from './format.js';
import { applyAddressRequest, enableInet6, newAddressRequest, noteAlias, setAddress, setDestination, setMask, type AddressRequest, type Family } from './ifconfig-address.js';
import {
  IFNAMSIZ,
  ToolError,
  addIface,
  bridgeMac,
  contextVnet,
  destroyIface,
  findIface,
  ifacesIn,
  lookupJail,
  lowestFreeUnit,
  mayConfigureNetwork,
  moveIface,
  validIfname,
  vnetOf,
} from './model.js';
import { HOST, type Cloner, type Iface, type SimState } from './state.js';
import { ok, releaseHasJailFlag, type ToolContext, type ToolOutput } from './tool.js';

const CLONERS: Record<string, { cloner: Cloner; module: string }> = {
  epair: { cloner: 'epair', module: 'if_epair' },
  bridge: { cloner: 'bridge', module: 'if_bridge' },
  tap: { cloner: 'tap', module: 'if_tuntap' },
  vxlan: { cloner: 'vxlan', module: 'if_vxlan' },
  lo: { cloner: 'lo', module: '' },
};

const USAGE =
  'usage: ifconfig [-j jail] [-f type:format] %sinterface address_family\n' +
  '                [address [dest_address]] [parameters]\n' +
  '       ifconfig [-j jail] interface create\n' +
  '       ifconfig [-j jail] -a [-dkLmuv] [-f type:format] [-G groupname]\n' +
  '                [-g groupname] [address_family]\n' +
  '       ifconfig [-j jail] -C\n' +
  '       ifconfig [-j jail] -g groupname\n' +
  '       ifconfig [-j jail] -l [-du] [-g groupname] [address_family]\n' +
  '       ifconfig [-j jail] [-dkLmuv] [-f type:format]\n';

const fail = (message: string, stdout = ''): never => {
  throw new ToolError(`ifconfig: ${message}\n`, 1, stdout);
};

function macValid(mac: string): boolean {
  return /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$/.test(mac);
}

function normaliseMac(mac: string): string {
  return mac
    .split(':')
    .map((b) => b.toLowerCase().padStart(2, '0'))
    .join(':');
}

/** Modified EUI-64 link-local address from a MAC, as in6_ifattach derives it. */
function linkLocalFor(iface: Iface): string {
  const b = iface.mac.split(':').map((x) => parseInt(x, 16));
  const bytes = [(b[0] ?? 0) ^ 2, b[1] ?? 0, b[2] ?? 0, 0xff, 0xfe, b[3] ?? 0, b[4] ?? 0, b[5] ?? 0];
  const groups: string[] = [];
  for (let i = 0; i < 8; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  const value = parseIP(`fe80::${groups.join(':')}`);
  return value ? formatIP(value) : 'fe80::1';
}

function bringLoopbackUp(iface: Iface): void {
  if (iface.cloner !== 'lo' || iface.inet6.some((a) => a.address === '::1')) return;
  iface.inet6.push({ address: '::1', prefix: 128 }, { address: 'fe80::1', prefix: 64, linkLocal: true });
}

function setUp(iface: Iface): void {
  iface.up = true;
  bringLoopbackUp(iface);
}

interface Session {
  state: SimState;
  vnet: string;
  callerJid: number;
  iface: Iface;
  stdout: string[];
  stderr: string[];
  /** The name printed at the end: the clone's, or the new one after `name`. */
  printName?: string;
}

/** ifconfig(): a NEXTARG command without its argument. */
function takeValue(args: string[], i: number, keyword: string): string {
  const value = args[i + 1];
  if (value === undefined) fail(`'${keyword}' requires argument`);
  return value as string;
}

function rename(s: Session, newName: string): void {
  if (newName.length >= IFNAMSIZ) fail('ioctl SIOCSIFNAME (set name): File name too long');
  if (findIface(s.state, s.vnet, newName)) fail('ioctl SIOCSIFNAME (set name): File exists');
  for (const route of vnetOf(s.state, s.vnet).routes) if (route.netif === s.iface.name) route.netif = newName;
  s.iface.name = newName;
  s.printName = newName;
}

/**
 * setifvnet: libjail's jail_getid takes a number as it is and a name by jail_get (alive jails
 * only: `jail "X" not found`); the kernel's if_vmove_loan (sys/net/if.c) answers ENXIO for a
 * jid it cannot see alive, EEXIST for the same vnet or a name taken there.
 */
function moveToJail(s: Session, key: string): void {
  const numeric = /^\d+$/.test(key);
  const jail = lookupJail(s.state, key, s.callerJid, false);
  if (!jail && !numeric) fail(`jail "${key}" not found`);
  if (!jail) fail('SIOCSIFVNET: Device not configured');
  if (jail!.vnetId === s.vnet) fail('SIOCSIFVNET: File exists');
  if (findIface(s.state, jail!.vnetId, s.iface.name)) fail('SIOCSIFVNET: File exists');
  moveIface(s.state, s.iface, jail!.vnetId);
}

function addMember(s: Session, memberName: string): void {
  const bridge = s.iface;
  const member = findIface(s.state, s.vnet, memberName);
  if (bridge.cloner !== 'bridge') fail(`BRDGADD ${memberName}: Invalid argument`);
  if (!member) fail(`BRDGADD ${memberName}: No such file or directory`);
  if (member!.memberOf === bridge.id) fail(`BRDGADD ${memberName}: File exists`);
  if (member!.memberOf !== undefined) fail(`BRDGADD ${memberName}: Device busy`);
  if (member!.cloner === 'bridge' || member!.cloner === 'lo' || member!.id === bridge.id) fail(`BRDGADD ${memberName}: Invalid argument`);
  const members = s.state.ifaces.filter((i) => i.memberOf === bridge.id);
  // if_bridge.c bridge_ioctl_add: the first member defines the bridge MTU; a later one with
  // another MTU is set to the bridge's through its own if_ioctl (epair, tap and vxlan take it).
  if (members.length === 0) bridge.mtu = member!.mtu;
  else member!.mtu = bridge.mtu;
  member!.memberOf = bridge.id;
  member!.memberSince = Math.max(0, ...s.state.ifaces.map((i) => i.memberSince ?? 0)) + 1;
  member!.promisc = true;
}

function deleteMember(s: Session, memberName: string): void {
  const member = findIface(s.state, s.vnet, memberName);
  if (s.iface.cloner !== 'bridge') fail(`BRDGDEL ${memberName}: Invalid argument`);
  if (!member || member.memberOf !== s.iface.id) fail(`BRDGDEL ${memberName}: No such file or directory`);
  member!.memberOf = undefined;
  member!.promisc = false;
}

function setGroup(s: Session, group: string, add: boolean): void {
  if (group.length >= IFNAMSIZ) fail('setifgroup: group name too long');
  if (/\d$/.test(group)) fail('setifgroup: group names may not end in a digit');
  if (add) {
    if (!s.iface.groups.includes(group)) s.iface.groups.push(group);
  } else {
    s.iface.groups = s.iface.groups.filter((g) => g !== group);
  }
}

/** The commands of basic_cmds (ifconfig.c) the simulator knows; returns the words it took. */
function interfaceCommand(s: Session, word: string, args: string[], i: number): number | undefined {
  const value = () => takeValue(args, i, word);
  switch (word) {
    case 'up': setUp(s.iface); return 1;
    case 'down': s.iface.up = false; return 1;
    case 'name': rename(s, value()); return 2;
    case 'mtu': setMtu(s, value()); return 2;
    // setifdescr: an empty text clears the description (a buffer of length 0).
    case 'description':
    case 'descr': s.iface.description = value() || undefined; return 2;
    case '-description':
    case '-descr': s.iface.description = undefined; return 1;
    case 'vnet': moveToJail(s, value()); return 2;
    case 'addm': addMember(s, value()); return 2;
    case 'deletem': deleteMember(s, value()); return 2;
    case 'promisc': s.iface.promisc = true; return 1;
    case 'ifdisabled': s.iface.nd6Disabled = true; return 1;
    // af_nd6.c setnd6flags → nd6_ioctl: clearing IFDISABLED on an up interface runs in6_if_up.
    case '-ifdisabled':
      if (s.iface.up) enableInet6(s.state, s.vnet, s.iface, linkLocalFor);
      else s.iface.nd6Disabled = false;
      return 1;
    case '-promisc':
      if (s.iface.memberOf === undefined) s.iface.promisc = false;
      return 1;
    case 'group': setGroup(s, value(), true); return 2;
    case '-group': setGroup(s, value(), false); return 2;
    default: return undefined;
  }
}

/**
 * setifmtu: atoi of the text (`1500abc` is 1500, `abc` is 0). sys/net/if.c ifhwioctl
 * SIOCSIFMTU: 72–65535 (EINVAL), then no change at all on a bridge member (EOPNOTSUPP, even
 * to the MTU it has); if_bridge.c's SIOCSIFMTU sets every member to the new MTU first.
 */
function setMtu(s: Session, text: string): void {
  const mtu = Number(/^\s*[+-]?\d+/.exec(text)?.[0] ?? 0);
  if (!(mtu >= 72 && mtu <= 65535)) fail('ioctl SIOCSIFMTU (set mtu): Invalid argument');
  if (s.iface.memberOf !== undefined) fail('ioctl SIOCSIFMTU (set mtu): Operation not supported');
  if (s.iface.cloner === 'bridge') {
    for (const member of s.state.ifaces.filter((i) => i.memberOf === s.iface.id)) member.mtu = mtu;
  }
  s.iface.mtu = mtu;
}

/** in6's flag commands (af_inet6.c inet6_cmds), registered for every family; not modelled. */
const INET6_FLAGS = new Set(['no_dad', '-no_dad', 'accept_rtadv', '-accept_rtadv', 'auto_linklocal', '-auto_linklocal', 'nud', '-nud', 'anycast', 'tentative', '-tentative', 'deprecated', '-deprecated', 'autoconf', '-autoconf', 'prefer_source', '-prefer_source', 'no_radr', '-no_radr', 'defaultif', '-defaultif', 'no_prefer_iface', '-no_prefer_iface', 'eui64']);

/** The address commands; a word no command claims is the address (setifaddr) or the destination. */
function addressCommand(req: AddressRequest, word: string, args: string[], i: number): number {
  if (word === 'alias' || word === 'add') noteAlias(req, 1);
  else if (word === '-alias' || word === 'delete' || word === 'remove') noteAlias(req, -1);
  else if (word === 'netmask') {
    if (req.family === 'inet') setMask(req, 'netmask', takeValue(args, i, word));
    return 2;
  } else if (word === 'prefixlen') {
    if (req.family === 'inet6') setMask(req, 'prefixlen', takeValue(args, i, word));
    return 2;
  } else if (INET6_FLAGS.has(word)) {
    // IFDISABLED and DAD flags are not modelled.
  } else if (req.setaddr) setDestination(req, word);
  else setAddress(req, word);
  return 1;
}

/**
 * The link families (af_link.c: `link`, `ether`, `lladdr`) are address families, not
 * commands: only right after the name or `create`. Their address is read by link_getaddr
 * as the words go (errx "malformed link-level address") and set by SIOCSIFLLADDR after
 * them all, by name in the vnet the command runs in: after a `vnet` on the same line the
 * interface is gone from there (ifioctl ENXIO, which Perror words "no such interface").
 */
function applyLinkParameters(s: Session, args: string[]): void {
  let mac: string | undefined;
  for (let i = 0; i < args.length; ) {
    const word = args[i] as string;
    const taken = interfaceCommand(s, word, args, i);
    if (taken !== undefined) {
      i += taken;
      continue;
    }
    // setifdstaddr: link_getaddr refuses anything but the address itself.
    if (mac !== undefined) fail("can't set link-level netmask or broadcast");
    if (!macValid(word)) fail('malformed link-level address');
    mac = word;
    i += 1;
  }
  if (mac === undefined) return;
  if (s.iface.vnet !== s.vnet) fail('ioctl (SIOCAIFADDR): no such interface');
  s.iface.mac = normaliseMac(mac);
}

/** ifconfig(): every word in order, then the deferred address change. */
function applyParameters(s: Session, args: string[], family: Family): void {
  const req = newAddressRequest(family);
  for (let i = 0; i < args.length; ) {
    const word = args[i] as string;
    i += interfaceCommand(s, word, args, i) ?? addressCommand(req, word, args, i);
  }
  applyAddressRequest({ state: s.state, vnet: s.vnet, iface: s.iface, stderr: s.stderr, bringUp: setUp, linkLocalFor }, req);
}

interface VxlanParams {
  vni?: number;
  local?: string;
  remote?: string;
  group?: string;
  dev?: string;
  port: number;
}

/** Takes the vxlan creation parameters out of the argument list. */
function vxlanParams(args: string[]): { params: VxlanParams; rest: string[] } {
  const params: VxlanParams = { port: 4789 };
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i] as string;
    const value = args[i + 1];
    if (word === 'vxlanid' || word === 'vni' || word === 'vxlanvni') params.vni = Number(value);
    else if (word === 'vxlanlocal') params.local = value;
    else if (word === 'vxlanremote') params.remote = value;
    else if (word === 'vxlangroup') params.group = value;
    else if (word === 'vxlandev') params.dev = value;
    else if (word === 'vxlanport') params.port = Number(value);
    else {
      rest.push(word);
      continue;
    }
    i++;
  }
  return { params, rest };
}

function createClone(state: SimState, vnet: string, spec: string, stdout: string[]): { iface: Iface; rest?: VxlanParams } {
  if (spec.length >= IFNAMSIZ) fail(`${spec}: cloning name too long`);
  const match = /^(epair|bridge|tap|vxlan|lo)(\d*)$/.exec(spec);
  if (!match) fail(`SIOCIFCREATE2 (${spec}): Invalid argument`);
  const { cloner, module } = CLONERS[match![1] as string]!;
  if (module && !state.modules.includes(module)) {
    // ifconfig loads the cloner's module itself, which only works on the host.
    if (vnet !== HOST) fail(`SIOCIFCREATE2 (${spec}): Invalid argument`);
    state.modules.push(module);
  }
  const unit = match![2] === '' ? lowestFreeUnit(state, vnet, cloner) : Number(match![2]);
  const names = cloner === 'epair' ? [`epair${unit}a`, `epair${unit}b`] : [`${cloner}${unit}`];
  if (names.some((n) => findIface(state, vnet, n))) fail(`interface ${spec} already exists`);
  if (cloner === 'epair') {
    const a = addIface(state, vnet, names[0] as string, 'epair', { unit });
    // sys/net/if_epair.c: epair_generate_mac ends the a end's address in 0x0a, and
    // epair_clone_add gives the b end a copy of it with the last byte 0x0b.
    const b = addIface(state, vnet, names[1] as string, 'epair', { unit, mac: a.mac.replace(/0a$/, '0b'), hwaddr: a.mac.replace(/0a$/, '0b') });
    a.peer = b.id;
    b.peer = a.id;
    stdout.push(a.name);
    return { iface: a };
  }
  const iface = addIface(state, vnet, names[0] as string, cloner, cloner === 'bridge' ? { unit, mac: bridgeMac(state), hwaddr: '' } : { unit });
  if (cloner === 'bridge') iface.hwaddr = iface.mac;
  return { iface };
}

function list(ctx: ToolContext, vnet: string, args: string[]): ToolOutput {
  let names = ifacesIn(ctx.state, vnet);
  if (args.includes('-u')) names = names.filter((i) => i.up);
  if (args.includes('-d')) names = names.filter((i) => !i.up);
  if (args.includes('ether')) names = names.filter((i) => i.cloner !== 'lo');
  return ok(`${names.map((i) => i.name).join(' ')}\n`);
}

/**
 * `ifconfig X -vnet J` (setifrvnet): X is the name inside J; it comes back to the caller's
 * vnet. jail_getid as for `vnet`; the kernel's if_vmove_reclaim (sys/net/if.c) answers EINVAL
 * for a jid it cannot see alive, ENXIO when J has no X, EEXIST for the caller's own vnet; the
 * text is err(1, "SIOCSIFRVNET(%d, %s)", jid, name).
 */
function reclaim(state: SimState, vnet: string, callerJid: number, name: string, key: string): ToolOutput {
  const numeric = /^\d+$/.test(key);
  const jail = lookupJail(state, key, callerJid, false);
  if (!jail && !numeric) fail(`jail "${key}" not found`);
  const failWith = (why: string) => fail(`SIOCSIFRVNET(${jail?.jid ?? Number(key)}, ${name}): ${why}`);
  if (!jail) failWith('Invalid argument');
  const inside = findIface(state, jail!.vnetId, name);
  if (!inside) failWith('Device not configured');
  if (jail!.vnetId === vnet) failWith('File exists');
  if (findIface(state, vnet, name)) failWith('File exists');
  moveIface(state, inside!, vnet);
  return ok();
}

/**
 * What a jail without its own vnet is told (priv_check refuses every change): the first
 * command that acts at once fails with its own text (setifflags: Perror(keyword), whose EPERM
 * text is "permission denied"; setifmtu, setifname, setifdescr: err(1, …)); address changes
 * come at the end, Perror("ioctl (SIOCAIFADDR)") or "(SIOCDIFADDR)" (ifconfig.c).
 */
function permissionText(name: string, words: string[]): string {
  for (const word of words) {
    if (word === 'create') return `SIOCIFCREATE2 (${name}): Operation not permitted`;
    if (word === 'destroy') return 'SIOCIFDESTROY: Operation not permitted';
    if (word === 'mtu') return 'ioctl SIOCSIFMTU (set mtu): Operation not permitted';
    if (word === 'name') return 'ioctl SIOCSIFNAME (set name): Operation not permitted';
    if (word === 'description' || word === 'descr') return 'ioctl SIOCSIFDESCR (set descr): Operation not permitted';
    if (word === 'vnet') return 'SIOCSIFVNET: Operation not permitted';
    if (['up', 'down', 'promisc', '-promisc'].includes(word)) return `${word}: permission denied`;
  }
  const deleting = words.some((w) => ['-alias', 'delete', 'remove'].includes(w));
  return `ioctl (${deleting ? 'SIOCDIFADDR' : 'SIOCAIFADDR'}): permission denied`;
}

const FAMILIES = new Set(['inet', 'inet6']);
const LINK_FAMILIES = new Set(['link', 'ether', 'lladdr']);
/** `ifconfig NAME FAMILY`: the interface's status for that family alone. */
const STATUS_FAMILIES = new Set([...FAMILIES, ...LINK_FAMILIES]);

/** The forms without an interface: -a, -l, -g, -C (and an option ifconfig does not have). */
function listing(ctx: ToolContext, vnet: string, args: string[]): ToolOutput {
  const { state } = ctx;
  if (args.length === 0 || args[0] === '-a') {
    const family = args[1] as 'inet' | 'inet6' | undefined;
    return ok(ifacesIn(state, vnet).map((i) => formatIface(state, i, family)).join(''));
  }
  if (args[0] === '-l') return list(ctx, vnet, args.slice(1));
  if (args[0] === '-g') {
    const group = args[1] ?? '';
    return ok(ifacesIn(state, vnet).filter((i) => i.groups.includes(group)).map((i) => `${i.name}\n`).join(''));
  }
  if (args[0] === '-C') {
    const loaded = Object.entries(CLONERS).filter(([, c]) => !c.module || state.modules.includes(c.module));
    return ok(`${loaded.map(([name]) => name).sort().join(' ')}\n`);
  }
  const option = (args[0] as string).slice(1, 2);
  throw new ToolError(`ifconfig: illegal option -- ${option}\n${USAGE.replace('%s', '')}`, 1);
}

/** ifconfig's entry point: argv without the program name. */
/** `-j JAIL`: the vnet and the jail the rest of the command acts as (13.3 and 14.0 on). */
function attachTo(ctx: ToolContext, argv: string[]): { vnet: string; callerJid: number; args: string[] } {
  const { state } = ctx;
  if (argv[0] !== '-j') return { vnet: contextVnet(state, ctx.callerJid), callerJid: ctx.callerJid, args: [...argv] };
  if (!releaseHasJailFlag(state.release)) {
    throw new ToolError(`ifconfig: illegal option -- j\n${USAGE.replace('%s', '')}`, 1);
  }
  const jail = lookupJail(state, argv[1] ?? '', ctx.callerJid);
  if (!jail) fail('jail not found: No such file or directory');
  return { vnet: jail!.vnetId, callerJid: jail!.jid, args: argv.slice(2) };
}

export function ifconfig(ctx: ToolContext, argv: string[]): ToolOutput {
  const { state } = ctx;
  const { vnet, callerJid, args } = attachTo(ctx, argv);
  if (args.length === 0 || (args[0] ?? '').startsWith('-')) return listing(ctx, vnet, args);

  const name = args[0] as string;
  if (!mayConfigureNetwork(state, callerJid) && args.length > 1 && !(args.length === 2 && STATUS_FAMILIES.has(args[1] as string))) {
    fail(permissionText(name, args.slice(1)));
  }
  const stdout: string[] = [];
  const session: Omit<Session, 'iface'> & { iface?: Iface } = { state, vnet, callerJid, stdout, stderr: [] };
  let rest = args.slice(1);
  // main(): `create` on an interface that exists is refused alone, and skipped before more words.
  if (rest[0] === 'create' && validIfname(name) && findIface(state, vnet, name)) {
    if (rest.length === 1) fail(`interface ${name} already exists`);
    rest = rest.slice(1);
  }
  if (rest[0] === 'create') {
    const { params, rest: after } = vxlanParams(rest.slice(1));
    const { iface } = createClone(state, vnet, name, stdout);
    if (iface.cloner === 'vxlan') {
      iface.vxlan = { vni: params.vni ?? 0, local: params.local ?? '0.0.0.0', remote: params.remote, group: params.group, port: params.port, dev: params.dev };
    }
    session.iface = iface;
    session.printName = iface.name;
    stdout.length = 0;
    rest = after;
  } else if (rest[0] === '-vnet') {
    return reclaim(state, vnet, callerJid, name, rest[1] ?? '');
  } else {
    if (!validIfname(name) || !findIface(state, vnet, name)) fail(`interface ${name} does not exist`);
    session.iface = findIface(state, vnet, name);
  }
  const s = session as Session;
  if (rest[0] === 'destroy') {
    if (s.iface.cloner === 'ether' || (s.iface.cloner === 'lo' && s.iface.name === 'lo0')) fail('SIOCIFDESTROY: Invalid argument');
    destroyIface(state, s.iface);
    return ok();
  }
  if (rest.length === 0 || (rest.length === 1 && STATUS_FAMILIES.has(rest[0] as string))) {
    if (s.printName && rest.length === 0) return ok(`${s.printName}\n`);
    // The three link families share one status printer (af_link.c link_status).
    const family = LINK_FAMILIES.has(rest[0] as string) ? 'ether' : (rest[0] as 'inet' | 'inet6' | undefined);
    return ok(formatIface(state, s.iface, family));
  }
  const printed = () => (s.printName ? `${s.printName}\n` : '');
  // The address family right after the name (or after `create`); inet when there is none.
  const first = rest[0] as string;
  const link = LINK_FAMILIES.has(first);
  if (link || FAMILIES.has(first)) rest.shift();
  const family: Family = FAMILIES.has(first) ? (first as Family) : 'inet';
  try {
    if (link) applyLinkParameters(s, rest);
    else applyParameters(s, rest, family);
  } catch (error) {
    if (error instanceof ToolError) throw new ToolError(s.stderr.join('') + error.stderr, error.exitCode, printed());
    throw error;
  }
  return ok(printed(), s.stderr.join(''));
}

