// ifconfig(8) of FreeBSD 14: cloning, renaming, vnet moves, addresses, bridge
// membership, and the status printer, with FreeBSD's error texts and exit codes.
import { formatIP, parseIP } from '../../../dist/ipam/ip.js';
import { formatIface } from './format.js';
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

function classfulPrefix(address: string): number {
  const first = Number(address.split('.')[0]);
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

function bringLoopbackUp(iface: Iface): void {
  if (iface.cloner !== 'lo' || iface.inet6.some((a) => a.address === '::1')) return;
  iface.inet6.push({ address: '::1', prefix: 128 }, { address: 'fe80::1', prefix: 64, linkLocal: true });
}

function setUp(iface: Iface): void {
  iface.up = true;
  bringLoopbackUp(iface);
}

function addressInUse(state: SimState, vnet: string, except: Iface, address: string): boolean {
  return state.ifaces.some(
    (i) => i.vnet === vnet && i.id !== except.id && (i.inet.some((a) => a.address === address) || i.inet6.some((a) => a.address === address)),
  );
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

function takeValue(args: string[], i: number, keyword: string): string {
  const value = args[i + 1];
  if (value === undefined) fail(`${keyword}: missing argument`);
  return value as string;
}

interface AddressWords {
  /** How many words after the address belong to it. */
  consumed: number;
  mode: 'set' | 'alias' | 'delete';
  /** From `netmask M` (inet) or `prefixlen N` (inet6). */
  prefix?: number;
}

/** The keywords that may follow an address: alias/-alias (add/delete), netmask or prefixlen, no_dad. */
function addressWords(rest: string[], family: 4 | 6): AddressWords {
  const out: AddressWords = { consumed: 0, mode: 'set' };
  for (let j = 0; j < rest.length; j++) {
    const word = rest[j] as string;
    if (word === 'alias' || word === 'add') out.mode = 'alias';
    else if (word === '-alias' || word === 'delete') out.mode = 'delete';
    else if (word === 'no_dad' || word === '-no_dad') {
      // DAD is not modelled: addresses are never tentative.
    } else if (family === 4 && word === 'netmask') {
      const mask = rest[++j] ?? '';
      const value = mask.startsWith('0x') ? parseInt(mask, 16) : Number(parseIP(mask)?.value ?? NaN);
      out.prefix = value.toString(2).replace(/0+$/, '').length;
      out.consumed++;
    } else if (family === 6 && word === 'prefixlen') {
      out.prefix = Number(rest[++j]);
      out.consumed++;
    } else break;
    out.consumed++;
  }
  return out;
}

function applyInet(s: Session, text: string, rest: string[]): number {
  const { consumed, mode, prefix: netmask } = addressWords(rest, 4);
  let [address, bits] = text.split('/') as [string, string | undefined];
  if (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > 32)) fail(`${text}: bad value (width too large)`);
  const ip = parseIP(address);
  if (!ip || ip.family !== 4) fail('error in parsing address string: hostname nor servname provided, or not known');
  if (mode === 'delete') {
    const index = s.iface.inet.findIndex((a) => a.address === address);
    if (index < 0) fail("ioctl (SIOCDIFADDR): Can't assign requested address");
    s.iface.inet.splice(index, 1);
    return consumed;
  }
  let prefix = bits !== undefined ? Number(bits) : netmask;
  if (prefix === undefined) {
    s.stderr.push('WARNING: setting interface address without mask is deprecated,\ndefault mask may not be correct.\n');
    prefix = classfulPrefix(address);
  }
  if (addressInUse(s.state, s.vnet, s.iface, address)) fail('ioctl (SIOCAIFADDR): File exists');
  const entry = { address, prefix };
  const existing = s.iface.inet.findIndex((a) => a.address === address);
  if (existing >= 0) s.iface.inet[existing] = entry;
  else if (mode === 'set' && s.iface.inet.length > 0) s.iface.inet[0] = entry;
  else s.iface.inet.push(entry);
  setUp(s.iface);
  return consumed;
}

function applyInet6(s: Session, text: string, rest: string[]): number {
  const { consumed, mode, prefix: prefixlen } = addressWords(rest, 6);
  const [addressText, bits] = text.split('/') as [string, string | undefined];
  if (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) > 128)) fail(`${text}: bad value (width too large)`);
  const ip = parseIP(addressText.replace(/%.*$/, ''));
  if (!ip || ip.family !== 6) fail('error in parsing address string: hostname nor servname provided, or not known');
  const address = formatIP(ip!);
  if (mode === 'delete') {
    const index = s.iface.inet6.findIndex((a) => a.address === address);
    if (index < 0) fail("ioctl (SIOCDIFADDR_IN6): Can't assign requested address");
    s.iface.inet6.splice(index, 1);
    return consumed;
  }
  if (addressInUse(s.state, s.vnet, s.iface, address)) fail('ioctl (SIOCAIFADDR_IN6): File exists');
  const prefix = bits !== undefined ? Number(bits) : (prefixlen ?? 64);
  // A manual address clears IFDISABLED; the link-local address comes with it.
  if (s.iface.nd6Disabled) {
    s.iface.nd6Disabled = false;
    const autoLinkLocal = vnetOf(s.state, s.vnet).sysctls['net.inet6.ip6.auto_linklocal'] !== '0';
    if (autoLinkLocal && s.iface.cloner !== 'lo' && !s.iface.inet6.some((a) => a.linkLocal)) {
      s.iface.inet6.push({ address: linkLocalFor(s.iface), prefix: 64, linkLocal: true });
    }
  }
  const existing = s.iface.inet6.findIndex((a) => a.address === address);
  if (existing >= 0) s.iface.inet6[existing] = { address, prefix };
  else s.iface.inet6.push({ address, prefix });
  setUp(s.iface);
  return consumed;
}

function rename(s: Session, newName: string): void {
  if (newName.length >= IFNAMSIZ) fail('ioctl SIOCSIFNAME (set name): File name too long');
  if (findIface(s.state, s.vnet, newName)) fail('ioctl SIOCSIFNAME (set name): File exists');
  for (const route of vnetOf(s.state, s.vnet).routes) if (route.netif === s.iface.name) route.netif = newName;
  s.iface.name = newName;
  s.printName = newName;
}

function moveToJail(s: Session, key: string): void {
  const jail = lookupJail(s.state, key, s.callerJid, true);
  if (!jail) fail(`jail "${key}" not found`);
  if (jail!.dying) fail('SIOCSIFVNET: Device busy');
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
  // FreeBSD 14: the first member sets the bridge MTU, later ones must match it.
  if (members.length === 0) bridge.mtu = member!.mtu;
  else if (member!.mtu !== bridge.mtu) fail(`BRDGADD ${memberName}: Invalid argument`);
  member!.memberOf = bridge.id;
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

/** Applies the parameters after the interface name, in order. */
function applyParameters(s: Session, args: string[]): void {
  for (let i = 0; i < args.length; i++) {
    const word = args[i] as string;
    switch (word) {
      case 'up':
        setUp(s.iface);
        break;
      case 'down':
        s.iface.up = false;
        break;
      case 'name':
        rename(s, takeValue(args, i++, word));
        break;
      case 'mtu': {
        const text = takeValue(args, i++, word);
        const mtu = /^\d+$/.test(text) ? Number(text) : NaN;
        if (!(mtu >= 72 && mtu <= 65535)) fail('ioctl SIOCSIFMTU (set mtu): Invalid argument');
        s.iface.mtu = mtu;
        break;
      }
      case 'ether':
      case 'lladdr':
      case 'link': {
        const mac = takeValue(args, i++, word);
        if (!macValid(mac)) fail('malformed link-level address');
        s.iface.mac = normaliseMac(mac);
        break;
      }
      case 'description':
      case 'descr':
        s.iface.description = takeValue(args, i++, word);
        break;
      case '-description':
      case '-descr':
        s.iface.description = undefined;
        break;
      case 'vnet':
        moveToJail(s, takeValue(args, i++, word));
        break;
      case 'addm':
        addMember(s, takeValue(args, i++, word));
        break;
      case 'deletem':
        deleteMember(s, takeValue(args, i++, word));
        break;
      case 'promisc':
        s.iface.promisc = true;
        break;
      case '-promisc':
        if (s.iface.memberOf === undefined) s.iface.promisc = false;
        break;
      case 'group':
        setGroup(s, takeValue(args, i++, word), true);
        break;
      case '-group':
        setGroup(s, takeValue(args, i++, word), false);
        break;
      case 'inet':
        i += 1 + applyInet(s, takeValue(args, i, word), args.slice(i + 2));
        break;
      case 'inet6':
        i += 1 + applyInet6(s, takeValue(args, i, word), args.slice(i + 2));
        break;
      default:
        // A bare address means inet, as the default address family.
        if (parseIP(word.split('/')[0] as string)?.family === 4) {
          i += applyInet(s, word, args.slice(i + 1));
        } else {
          fail('error in parsing address string: hostname nor servname provided, or not known');
        }
    }
  }
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

/** `ifconfig X -vnet J`: X is the name inside J; it comes back to the caller's vnet. */
function reclaim(state: SimState, vnet: string, callerJid: number, name: string, key: string): ToolOutput {
  const jail = lookupJail(state, key, callerJid, true);
  if (!jail) fail(`jail "${key}" not found`);
  const inside = findIface(state, jail!.vnetId, name);
  if (!inside || jail!.vnetId === vnet) fail('SIOCSIFRVNET: Device not configured');
  if (findIface(state, vnet, name)) fail('SIOCSIFRVNET: File exists');
  moveIface(state, inside!, vnet);
  return ok();
}

/** The ioctl a refused change reports, by its first keyword. */
function permissionText(name: string, keyword: string): string {
  if (keyword === 'create') return `SIOCIFCREATE2 (${name}): Operation not permitted`;
  if (keyword === 'destroy') return 'SIOCIFDESTROY: Operation not permitted';
  if (keyword === 'mtu') return 'ioctl SIOCSIFMTU (set mtu): Operation not permitted';
  if (keyword === 'name') return 'ioctl SIOCSIFNAME (set name): Operation not permitted';
  if (keyword === 'inet6') return 'ioctl (SIOCAIFADDR_IN6): Operation not permitted';
  if (keyword === 'inet' || parseIP((keyword ?? '').split('/')[0] as string)) return 'ioctl (SIOCAIFADDR): Operation not permitted';
  return 'ioctl (SIOCSIFFLAGS): Operation not permitted';
}

/** ifconfig's entry point: argv without the program name. */
export function ifconfig(ctx: ToolContext, argv: string[]): ToolOutput {
  const { state } = ctx;
  let args = [...argv];
  let vnet = contextVnet(state, ctx.callerJid);
  let callerJid = ctx.callerJid;
  if (args[0] === '-j') {
    if (!releaseHasJailFlag(state.release)) {
      throw new ToolError(`ifconfig: illegal option -- j\n${USAGE.replace('%s', '')}`, 1);
    }
    const jail = lookupJail(state, args[1] ?? '', callerJid);
    if (!jail) fail('jail not found: No such file or directory');
    vnet = jail!.vnetId;
    callerJid = jail!.jid;
    args = args.slice(2);
  }
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
  if ((args[0] ?? '').startsWith('-')) {
    const option = (args[0] as string).slice(1, 2);
    throw new ToolError(`ifconfig: illegal option -- ${option}\n${USAGE.replace('%s', '')}`, 1);
  }

  const name = args[0] as string;
  if (!mayConfigureNetwork(state, callerJid) && args.length > 1 && !(args.length === 2 && ['inet', 'inet6', 'ether'].includes(args[1] as string))) {
    fail(permissionText(name, args[1] as string));
  }
  const stdout: string[] = [];
  const session: Omit<Session, 'iface'> & { iface?: Iface } = { state, vnet, callerJid, stdout, stderr: [] };
  let rest = args.slice(1);
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
  if (rest.length === 0 || (rest.length === 1 && ['inet', 'inet6', 'ether'].includes(rest[0] as string))) {
    if (s.printName && rest.length === 0) return ok(`${s.printName}\n`);
    return ok(formatIface(state, s.iface, rest[0] as 'inet' | 'inet6' | 'ether' | undefined));
  }
  const printed = () => (s.printName ? `${s.printName}\n` : '');
  try {
    applyParameters(s, rest);
  } catch (error) {
    if (error instanceof ToolError) throw new ToolError(s.stderr.join('') + error.stderr, error.exitCode, printed());
    throw error;
  }
  return ok(printed(), s.stderr.join(''));
}

