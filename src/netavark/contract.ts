// The netavark contract as one call: podman's libnetwork runs its backend with global
// options, a subcommand and JSON on stdin (netavark-contract.md); runNetavark takes the same
// and returns the exit code: 0 with one JSON document (and a newline) on stdout, 1 with
// exactly {"error":"…"} on stdout, 2 with a usage error on stderr. Logs go to stderr only.
// Its doors: libexec/podman/netavark (a shim to jailnetd, or libexec/netavark.js in a process
// of its own) and jailnetd's netavark service.
import { promises as fs } from 'node:fs';
import { parseIP } from '../ipam/ip.js';
import { oneLine } from '../util/teardown.js';
import { hostDriver, openBackend, setup, teardown } from './backend.js';
import { completeNetwork, readCreateInput } from './create.js';
import { updateServers } from './dns.js';
import { checkNetworkName } from './plan.js';
import { parseInvocation, USAGE, UsageError, type Invocation } from './options.js';
import { NetavarkError, readNetworkOptions } from './wire.js';

/** The netavark release whose contract this one speaks: both wire forms of `networks`, as 2.0 reads them. */
export const NETAVARK_COMPATIBLE_VERSION = '2.0.0';

export interface NetavarkIO {
  stdout(text: string): void;
  stderr(text: string): void;
  stdin(): Promise<string>;
  env: NodeJS.ProcessEnv;
}

const FIREWALL_DRIVERS = new Set(['nftables', 'iptables', 'firewalld', 'pf', 'none']);
const NOT_HERE: Record<string, string> = {
  'dhcp-proxy': 'jailnet has no DHCP proxy: its networks take the addresses podman assigns (ipam driver host-local)',
  'firewalld-reload': 'jailnet does not use firewalld; after a firewall reload, `jailnet repair` restores its rules',
  'firewall-reload': 'after a firewall reload, `jailnet repair` restores jailnet\'s rules (pf anchors or the nft table)',
};

/** NETAVARK_FW or --firewall-driver, as netavark checks it (case-insensitive); false for `none`. */
function firewallOn(inv: Invocation, env: NodeJS.ProcessEnv): boolean {
  const driver = (inv.firewallDriver ?? env.NETAVARK_FW ?? '').toLowerCase();
  if (driver !== '' && !FIREWALL_DRIVERS.has(driver)) throw new NetavarkError(`Must provide a valid firewall backend, got ${driver}`);
  return driver !== 'none';
}

/** NETAVARK_DNS_PORT (default 53), checked now so a wrong one is said before any change. */
function dnsPort(env: NodeJS.ProcessEnv): number {
  const port = env.NETAVARK_DNS_PORT;
  if (port === undefined || port === '') return 53;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new NetavarkError(`invalid NETAVARK_DNS_PORT ${JSON.stringify(port)}: expected a port from 1 to 65535`);
  }
  return Number(port);
}

async function backendFor(inv: Invocation, io: NetavarkIO) {
  if (inv.config === undefined) throw new NetavarkError(`--config not specified but required for netavark ${inv.command}`);
  return openBackend(io.env, { configDir: inv.config, aardvarkBinary: inv.aardvarkBinary, dnsPort: dnsPort(io.env), firewall: firewallOn(inv, io.env) });
}

/** update's comma-joined list (possibly empty), each an IP address. */
function dnsServerList(list: string): string[] {
  const servers = list.split(',').filter((s) => s !== '');
  const bad = servers.find((s) => parseIP(s) === null);
  if (bad !== undefined) throw new NetavarkError(`invalid DNS server ${JSON.stringify(bad)}`);
  return servers;
}

async function readInput(inv: Invocation, io: NetavarkIO): Promise<string> {
  if (inv.file === undefined) return io.stdin();
  return fs.readFile(inv.file, 'utf8').catch((error: Error) => {
    throw new NetavarkError(`failed to read ${inv.file}: ${oneLine(error)}`);
  });
}

/** setup or teardown (the doors keep SIGTERM and SIGINT from cutting a teardown in half). */
async function attach(inv: Invocation, io: NetavarkIO): Promise<string> {
  if (inv.rootless) throw new NetavarkError('rootless networking is not supported by jailnet: run podman as root');
  const backend = await backendFor(inv, io);
  const options = readNetworkOptions(await readInput(inv, io));
  if (inv.command === 'setup') return `${JSON.stringify(await setup(backend, inv.target as string, options))}\n`;
  await teardown(backend, inv.target as string, options);
  return '';
}

function versionJson(): string {
  const info = { version: NETAVARK_COMPATIBLE_VERSION, commit: '', build_time: '', target: `${process.platform}-${process.arch}`, default_fw_driver: process.platform === 'freebsd' ? 'pf' : 'nftables', backend: 'jailnet' };
  return `${JSON.stringify(info, null, 2)}\n`;
}

async function run(inv: Invocation, io: NetavarkIO): Promise<string> {
  switch (inv.command) {
    case 'setup':
    case 'teardown':
      return attach(inv, io);
    case 'update': {
      const backend = await backendFor(inv, io);
      await updateServers(backend.dns, checkNetworkName(inv.target as string), dnsServerList(inv.dnsServers ?? ''));
      return '';
    }
    case 'version':
      return versionJson();
    case 'create': {
      const input = readCreateInput(await readInput(inv, io));
      const { host } = hostDriver(io.env);
      return `${JSON.stringify(completeNetwork(input, await host.listInterfaces(), new Date()))}\n`;
    }
    default:
      throw new NetavarkError(NOT_HERE[inv.command as string] ?? `unknown command ${inv.command}`);
  }
}

export async function runNetavark(argv: string[], io: NetavarkIO): Promise<number> {
  let inv: Invocation;
  try {
    inv = parseInvocation(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`error: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (inv.help) return io.stdout(USAGE), 0;
  if (inv.versionFlag) return io.stdout(`netavark ${NETAVARK_COMPATIBLE_VERSION}\n`), 0;
  try {
    io.stdout(await run(inv, io));
    return 0;
  } catch (error) {
    io.stdout(`${JSON.stringify({ error: error instanceof NetavarkError ? error.message : oneLine(error) })}\n`);
    return 1;
  }
}
