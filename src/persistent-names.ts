// Every name jailnet leaves on a host and finds again later — jails, interfaces and
// their descriptions, pf anchors and tables, the nft table — is spelled here and only
// here, with its parser where one is needed. gc, leftovers and status find what they
// must remove through these functions, so a name cannot change in one place and be
// looked for under its old spelling in another (a test scans src/ for stray literals).
import { createHash } from 'node:crypto';
import type { PublicationOwner } from './hosts/packet-filter.js';

const POD_PREFIX = 'jailnet-';

/** The pod's parent jail. */
export function podJailName(pod: string): string {
  return `${POD_PREFIX}${pod}`;
}

/** The CNI container ID of a jailnet pod's attachments. */
export function podContainerId(pod: string): string {
  return `${POD_PREFIX}${pod}`;
}

/**
 * The host end of an attachment's epair: `jn` and 12 hex digits of a hash of network,
 * container and ifname — 14 characters, stable across ADD and DEL, so DEL finds it
 * without records.
 */
export function hostInterfaceName(network: string, containerId: string, ifname: string): string {
  const digest = createHash('sha256').update(`${network}\0${containerId}\0${ifname}`).digest('hex');
  return `jn${digest.slice(0, 12)}`;
}

/** The host end's description: the mark by which gc finds an attachment nothing else records. */
export function hostInterfaceDescription(jail: string, ifname: string, network: string): string {
  return `jailnet: pod ${jail} ifname ${ifname} network ${network}`;
}

/** The inverse of hostInterfaceDescription, for any description (undefined when it is not jailnet's). */
export function parseHostInterfaceDescription(description: string | undefined): { jail: string; ifname: string; network: string } | undefined {
  const match = /^jailnet: pod (\S+) ifname (\S+) network (\S+)$/.exec(description ?? '');
  return match ? { jail: match[1] as string, ifname: match[2] as string, network: match[3] as string } : undefined;
}

/** The parent of the published-port anchors, which podman's pf.conf.sample hooks as `cni-rdr/*`. */
export const RDR_ANCHOR_PARENT = 'cni-rdr';

/** A publication's own key: the container ID cut to 32 characters, as podman's plugins do, and the ifname. */
export function publicationKey(owner: PublicationOwner): string {
  return `${owner.containerId.slice(0, 32)}-${owner.ifname}`;
}

/** The pf anchor of one attachment's published ports. */
export function rdrAnchor(owner: PublicationOwner): string {
  return `${RDR_ANCHOR_PARENT}/${publicationKey(owner)}`;
}

/** The pf table pf.conf masquerades (podman's name, so its pf.conf.sample works as it is). */
export const MASQUERADE_TABLE = 'cni-nat';

/** jailnet's own pf anchor for network isolation, and the table of every pod subnet inside it. */
export const ISOLATION_ANCHOR = 'jailnet-fw';
export const POD_SUBNETS_TABLE = 'jailnet-pods';

/** jailnet's own nftables table (`inet jailnet`), which stands in for pf on Linux. */
export const NFT_TABLE = 'jailnet';

/** A pod's load balancer (kata-ipvs) on FreeBSD: the rdr anchor in the pod's own vnet pf. */
export const BALANCER_ANCHOR = 'jailnet-lb';

/** A pod's load balancer (kata-ipvs) on Linux: an nftables table of its own in the pod's netns (`ip jailnet-lb`). */
export const BALANCER_NFT_TABLE = 'jailnet-lb';

/**
 * host-local's index of leases by attachment: `<dataDir>/.jailnet-by-attachment/<network>/`,
 * beside the networks' lease directories, never in one (the reference plugin reads every
 * file below a network's directory, and the layout there stays exactly the reference's).
 * No network's directory has this name: CNI network names start with a letter or digit.
 */
export const LEASE_INDEX_DIR = '.jailnet-by-attachment';

/** jailnetd's socket, where the plugin shims (libexec/cni/*) look for it unless JAILNET_SOCKET says otherwise. */
export const DAEMON_SOCKET = '/var/run/jailnet/jailnetd.sock';

/**
 * Beside jailnetd's socket, for a daemon a call started ([daemon] autostart): its pidfile
 * (also the lock of its start, so that concurrent calls start one) and its log.
 */
export const daemonPidFile = (socket: string): string => `${socket}.pid`;
export const daemonLogFile = (socket: string): string => `${socket}.log`;

/**
 * jailnet's files beside aardvark-dns's directory (`<netavark --config>/aardvark-dns`), in
 * podman's network run directory: the lock every writer of the directory takes, and what
 * aardvark-dns printed when jailnet started it. Never inside the directory: aardvark 1.4
 * reads every file there as a network's.
 */
export const AARDVARK_LOCK = 'jailnet-aardvark';

/**
 * aardvark-dns's directory for the dnsname plugin (podman's CNI backend): in jailnet's run
 * directory (JAILNET_RUN_DIR, else the socket's), which goes at reboot with the containers
 * it names; apart from netavark's, which podman keeps in its own run directory.
 */
export const cniAardvarkDir = (env: NodeJS.ProcessEnv): string => `${env.JAILNET_RUN_DIR || DAEMON_SOCKET.slice(0, DAEMON_SOCKET.lastIndexOf('/'))}/aardvark-dns`;
export const AARDVARK_OUTPUT = 'jailnet-aardvark.log';
