// netavark's command line as podman's libnetwork writes it (netavark-contract.md §1): global
// options in any order, each as `--opt=value`, `--opt value`, `-o value` or `-ovalue`, then
// one subcommand with its own arguments. A mistake here is a usage error (exit 2, on stderr),
// as clap's are.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Subcommand = 'setup' | 'teardown' | 'update' | 'create' | 'version' | 'dhcp-proxy' | 'firewalld-reload' | 'firewall-reload';

export interface Invocation {
  config?: string;
  rootless: boolean;
  aardvarkBinary?: string;
  file?: string;
  firewallDriver?: string;
  pluginDirectories: string[];
  /** -V/--version: print the version line and nothing else. */
  versionFlag: boolean;
  help: boolean;
  command?: Subcommand;
  /** setup/teardown: the namespace; update: the network. */
  target?: string;
  /** update's --network-dns-servers, one comma-joined argument (possibly empty). */
  dnsServers?: string;
}

const SUBCOMMANDS: ReadonlySet<string> = new Set(['setup', 'teardown', 'update', 'create', 'version', 'dhcp-proxy', 'firewalld-reload', 'firewall-reload']);

/** Options that take a value, by every name they go by. */
const VALUED: Record<string, keyof Invocation> = {
  '-c': 'config',
  '--config': 'config',
  '-r': 'rootless',
  '--rootless': 'rootless',
  '-a': 'aardvarkBinary',
  '--aardvark-binary': 'aardvarkBinary',
  '-f': 'file',
  '--file': 'file',
  '--firewall-driver': 'firewallDriver',
  '--plugin-directory': 'pluginDirectories',
  '--network-dns-servers': 'dnsServers',
};

const FLAGS: Record<string, 'versionFlag' | 'help'> = { '-V': 'versionFlag', '--version': 'versionFlag', '-h': 'help', '--help': 'help' };

function setValue(inv: Invocation, key: keyof Invocation, name: string, value: string): void {
  if (key === 'rootless') {
    if (value !== 'true' && value !== 'false') throw new UsageError(`invalid value '${value}' for '${name}': expected true or false`);
    inv.rootless = value === 'true';
  } else if (key === 'pluginDirectories') {
    inv.pluginDirectories.push(value);
  } else if (key === 'dnsServers' && inv.command !== 'update') {
    throw new UsageError(`unexpected argument '${name}' found`);
  } else {
    (inv as unknown as Record<string, unknown>)[key] = value;
  }
}

/** Splits `--opt=value` and `-ovalue`; returns the option's name and its inline value, if any. */
function splitOption(arg: string): { name: string; inline?: string } {
  if (arg.startsWith('--')) {
    const eq = arg.indexOf('=');
    return eq < 0 ? { name: arg } : { name: arg.slice(0, eq), inline: arg.slice(eq + 1) };
  }
  if (arg.length > 2 && VALUED[arg.slice(0, 2)]) return { name: arg.slice(0, 2), inline: arg.slice(2).replace(/^=/, '') };
  return { name: arg };
}

function positional(inv: Invocation, arg: string): void {
  if (inv.command === undefined) {
    if (!SUBCOMMANDS.has(arg)) throw new UsageError(`unrecognized subcommand '${arg}'`);
    inv.command = arg as Subcommand;
  } else if ((inv.command === 'setup' || inv.command === 'teardown' || inv.command === 'update') && inv.target === undefined) {
    inv.target = arg;
  } else {
    throw new UsageError(`unexpected argument '${arg}' found`);
  }
}

/** What the arguments ask for; the subcommand's required arguments checked. */
export function parseInvocation(argv: string[]): Invocation {
  const inv: Invocation = { rootless: false, pluginDirectories: [], versionFlag: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--' || !arg.startsWith('-') || arg === '-') {
      positional(inv, arg);
      continue;
    }
    const { name, inline } = splitOption(arg);
    const flag = FLAGS[name];
    if (flag && inline === undefined) {
      inv[flag] = true;
      continue;
    }
    const key = VALUED[name];
    if (!key) throw new UsageError(`unexpected argument '${arg}' found`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`a value is required for '${name}' but none was supplied`);
    setValue(inv, key, name, value);
  }
  return checkRequired(inv);
}

function checkRequired(inv: Invocation): Invocation {
  if (inv.help || inv.versionFlag) return inv;
  if (inv.command === undefined) throw new UsageError('a subcommand is required: setup, teardown, update, create or version');
  if ((inv.command === 'setup' || inv.command === 'teardown') && !inv.target) throw new UsageError(`the namespace argument of '${inv.command}' is required`);
  if (inv.command === 'update') {
    if (!inv.target) throw new UsageError("the network name argument of 'update' is required");
    if (inv.dnsServers === undefined) throw new UsageError("'update' requires --network-dns-servers");
  }
  return inv;
}

export const USAGE = `Usage: netavark [OPTIONS] <COMMAND>

jailnet's netavark: podman's network backend on FreeBSD jails and Linux network namespaces.

Commands:
  setup <NS>        set up the container's networks (JSON on stdin or --file)
  teardown <NS>     take the container off its networks
  update <NETWORK> --network-dns-servers <LIST>
                    change a network's DNS servers
  create            complete a new network's configuration (podman 6)
  version           print version information as JSON

Options:
  -c, --config <DIR>            podman's network run directory
  -r, --rootless <true|false>   rootless mode (not supported by jailnet)
  -a, --aardvark-binary <PATH>  the aardvark-dns executable
  -f, --file <PATH>             read the JSON from this file instead of stdin
      --firewall-driver <NAME>  the firewall driver (also NETAVARK_FW)
      --plugin-directory <DIR>  a directory of network plugins (repeatable)
  -V, --version                 print the version
  -h, --help                    print this help
`;
