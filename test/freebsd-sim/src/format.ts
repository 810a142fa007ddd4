// ifconfig(8)'s text, as the FreeBSD 14 netlink printer lays it out (line order in
// freebsd-mechanics.md §2.6; 14.x bridge block, no `bridge flags=` line).
import { formatIP, parseIP, lastAddress } from '../../../dist/ipam/ip.js';
import { formatFlags, ifaceById } from './model.js';
import type { Iface, SimState } from './state.js';

const IFF: Array<[number, string]> = [
  [0x1, 'UP'],
  [0x2, 'BROADCAST'],
  [0x4, 'DEBUG'],
  [0x8, 'LOOPBACK'],
  [0x10, 'POINTOPOINT'],
  [0x40, 'RUNNING'],
  [0x80, 'NOARP'],
  [0x100, 'PROMISC'],
  [0x200, 'ALLMULTI'],
  [0x800, 'SIMPLEX'],
  [0x8000, 'MULTICAST'],
  [0x1000000, 'LOWER_UP'],
];

const OPTIONS: Record<string, string | undefined> = {
  epair: '8<VLAN_MTU>',
  lo: '680003<RXCSUM,TXCSUM,LINKSTATE,RXCSUM_IPV6,TXCSUM_IPV6>',
  tap: '80000<LINKSTATE>',
  vxlan: '80000<LINKSTATE>',
  ether: '80028<VLAN_MTU,JUMBO_MTU,LINKSTATE>',
  bridge: undefined,
};

/**
 * Whether frames pass: epair_transmit drops them unless both ends are UP and RUNNING
 * (sys/net/if_epair.c); a tap needs a reader it never has here. What ifconfig shows is
 * another matter (mediaActive).
 */
export function linkActive(state: SimState, iface: Iface): boolean {
  if (!iface.up) return false;
  if (iface.cloner === 'tap') return false;
  if (iface.cloner === 'epair') return ifaceById(state, iface.peer)?.up ?? false;
  return true;
}

/**
 * The media status ifconfig prints: epair_media_status always answers IFM_ACTIVE
 * (if_epair.c), whatever either end's flags; a tap has no carrier until opened.
 */
function mediaActive(iface: Iface): boolean {
  if (iface.cloner === 'epair') return true;
  if (iface.cloner === 'tap') return false;
  return iface.up;
}

/**
 * if_flags | if_drv_flags as netlink reports them (sys/netlink/route/iface.c), with
 * IFF_LOWER_UP when the operational state is up: media active and IFF_UP. An epair is
 * RUNNING from epair_clone_create (epair_set_state) until destroyed; other interfaces
 * get RUNNING when brought up (their if_init).
 */
export function flagBits(_state: SimState, iface: Iface): number {
  let bits = iface.cloner === 'lo' ? 0x8 | 0x8000 : 0x2 | 0x800 | 0x8000;
  if (iface.up) bits |= 0x1 | (iface.cloner === 'tap' ? 0 : 0x40);
  if (iface.cloner === 'epair') bits |= 0x40;
  if (iface.promisc) bits |= 0x100;
  if (iface.up && (iface.cloner === 'lo' || mediaActive(iface))) bits |= 0x1000000;
  return bits;
}

function netmaskHex(prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return `0x${mask.toString(16).padStart(8, '0')}`;
}

export function inetLines(iface: Iface): string[] {
  return iface.inet.map(({ address, prefix }) => {
    const base = `\tinet ${address} netmask ${netmaskHex(prefix)}`;
    if (iface.cloner === 'lo') return base;
    const ip = parseIP(address);
    const broadcast = ip ? formatIP(lastAddress({ ip, bits: prefix })) : address;
    return `${base} broadcast ${broadcast}`;
  });
}

export function inet6Lines(iface: Iface): string[] {
  return iface.inet6.map(({ address, prefix, linkLocal }) =>
    linkLocal
      ? `\tinet6 ${address}%${iface.name} prefixlen ${prefix} scopeid 0x${iface.ifindex.toString(16)}`
      : `\tinet6 ${address} prefixlen ${prefix}`,
  );
}

function bridgeLines(state: SimState, bridge: Iface): string[] {
  const lines = [
    `\tid ${bridge.mac} priority 32768 hellotime 2 fwddelay 15`,
    '\tmaxage 20 holdcnt 6 proto rstp maxaddr 2000 timeout 1200',
    `\troot id ${bridge.mac} priority 32768 ifcost 0 port 0`,
  ];
  // if_bridge.c bridge_ioctl_add puts a new member at the head of sc_iflist, and BRDGGIFS
  // walks that list: the newest member is printed first.
  const members = state.ifaces.filter((i) => i.memberOf === bridge.id).sort((a, b) => (b.memberSince ?? 0) - (a.memberSince ?? 0));
  for (const member of members) {
    lines.push(`\tmember: ${member.name} flags=143<LEARNING,DISCOVER,AUTOEDGE,AUTOPTP>`);
    lines.push(`\t        ifmaxaddr 0 port ${member.ifindex} priority 128 path cost 2000`);
  }
  return lines;
}

function mediaLines(iface: Iface): string[] {
  switch (iface.cloner) {
    case 'epair':
      return ['\tmedia: Ethernet 10Gbase-T (10Gbase-T <full-duplex>)', '\tstatus: active'];
    case 'vxlan':
      return ['\tmedia: Ethernet autoselect (autoselect <full-duplex>)', `\tstatus: ${iface.up ? 'active' : 'no carrier'}`];
    case 'tap':
      return ['\tmedia: Ethernet autoselect', '\tstatus: no carrier'];
    case 'ether':
      return ['\tmedia: Ethernet autoselect (10Gbase-T <full-duplex>)', '\tstatus: active'];
    default:
      return [];
  }
}

function nd6Line(iface: Iface): string {
  if (iface.cloner === 'lo') return '\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>';
  if (iface.cloner === 'bridge') return iface.nd6Disabled ? '\tnd6 options=9<PERFORMNUD,IFDISABLED>' : '\tnd6 options=1<PERFORMNUD>';
  return iface.nd6Disabled ? '\tnd6 options=29<PERFORMNUD,IFDISABLED,AUTO_LINKLOCAL>' : '\tnd6 options=21<PERFORMNUD,AUTO_LINKLOCAL>';
}

export function headerLine(state: SimState, iface: Iface): string {
  return `${iface.name}: flags=${formatFlags(flagBits(state, iface), IFF)} metric 0 mtu ${iface.mtu}`;
}

/** The whole block, or with `family` only the header and that family's lines. */
export function formatIface(state: SimState, iface: Iface, family?: 'inet' | 'inet6' | 'ether'): string {
  const lines = [headerLine(state, iface)];
  if (family === 'inet') return [...lines, ...inetLines(iface)].join('\n') + '\n';
  if (family === 'inet6') return [...lines, ...inet6Lines(iface)].join('\n') + '\n';
  if (iface.description !== undefined) lines.push(`\tdescription: ${iface.description}`);
  const options = OPTIONS[iface.cloner];
  if (options) lines.push(`\toptions=${options}`);
  if (iface.cloner !== 'lo') {
    lines.push(`\tether ${iface.mac}`);
    if (iface.hwaddr !== iface.mac) lines.push(`\thwaddr ${iface.hwaddr}`);
  }
  if (family === 'ether') return lines.join('\n') + '\n';
  lines.push(...inetLines(iface), ...inet6Lines(iface));
  if (iface.cloner === 'bridge') lines.push(...bridgeLines(state, iface));
  if (iface.vxlan) {
    const v = iface.vxlan;
    const remote = v.remote ? ` remote ${v.remote}:${v.port}` : v.group ? ` group ${v.group}:${v.port}` : '';
    lines.push(`\tvxlan vni ${v.vni} local ${v.local}:${v.port}${remote}`);
  }
  if (iface.groups.length > 0) lines.push(`\tgroups: ${iface.groups.join(' ')}`);
  lines.push(...mediaLines(iface), nd6Line(iface));
  return lines.join('\n') + '\n';
}

