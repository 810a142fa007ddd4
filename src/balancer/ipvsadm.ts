// ipvsadm's command line as jailnet takes it in `kata-ipvs ipvsadm --parameters "…"` and in
// restore lines: split on whitespace (the contract's agent does the same, no shell), then
// parsed with ipvsadm's grammar (ipvsadm.c parse_options: one command, options once each,
// short options clustered as popt allows, `--long=value`) and checked against its table of
// legal command/option pairs (generic_opt_check), with its messages. Anchored, IPv4 only
// as the contract is, and with the documented ranges: ports 1–65535, weight 0–65535,
// persistence 1–2678400 s (0: not persistent, as the contract strips `-p 0`), timeouts
// 0–1296000 s. Pure: text in, a command as data out.
import { parseIP } from '../ipam/ip.js';
import { BalancerError, type LbProtocol, type RuleChange, type ServerKey, type ServiceKey, type Timeouts } from './rules.js';

export type IpvsCommand =
  | RuleChange
  | { kind: 'list'; service?: ServiceKey; numeric: boolean; timeouts: boolean }
  | { kind: 'save'; numeric: boolean };

type CommandName = 'add-service' | 'edit-service' | 'delete-service' | 'flush' | 'list' | 'add-server' | 'edit-server' | 'delete-server' | 'set' | 'save';
type OptionName = 'numeric' | 'service-address' | 'scheduler' | 'persistent' | 'real-server' | 'forwarding-method' | 'weight' | 'timeout' | 'exact';

/** Which options each command takes: '+' needed, ' ' optional; any other is illegal (ipvsadm.c commands_v_options). */
const LEGAL: Record<CommandName, Partial<Record<OptionName, '+' | ' '>>> = {
  'add-service': { 'service-address': '+', scheduler: ' ', persistent: ' ' },
  'edit-service': { 'service-address': '+', scheduler: ' ', persistent: ' ' },
  'delete-service': { 'service-address': '+' },
  flush: {},
  list: { numeric: ' ', 'service-address': ' ', timeout: ' ', exact: ' ' },
  'add-server': { 'service-address': '+', 'real-server': '+', 'forwarding-method': ' ', weight: ' ' },
  'edit-server': { 'service-address': '+', 'real-server': '+', 'forwarding-method': ' ', weight: ' ' },
  'delete-server': { 'service-address': '+', 'real-server': '+' },
  set: {},
  save: { numeric: ' ' },
};

const COMMANDS: Record<string, CommandName> = {
  '-A': 'add-service', '--add-service': 'add-service', '-E': 'edit-service', '--edit-service': 'edit-service',
  '-D': 'delete-service', '--delete-service': 'delete-service', '-C': 'flush', '--clear': 'flush',
  '-L': 'list', '-l': 'list', '--list': 'list', '-a': 'add-server', '--add-server': 'add-server',
  '-e': 'edit-server', '--edit-server': 'edit-server', '-d': 'delete-server', '--delete-server': 'delete-server',
  '--set': 'set', '-S': 'save', '--save': 'save',
};

/** Options that take a value, by every spelling; `-p` takes one only when the next word is a number. */
const VALUED: Record<string, OptionName> = {
  '-t': 'service-address', '--tcp-service': 'service-address', '-u': 'service-address', '--udp-service': 'service-address',
  '-s': 'scheduler', '--scheduler': 'scheduler', '-p': 'persistent', '--persistent': 'persistent',
  '-r': 'real-server', '--real-server': 'real-server', '-w': 'weight', '--weight': 'weight',
};

const FLAGS: Record<string, OptionName> = {
  '-n': 'numeric', '--numeric': 'numeric', '-m': 'forwarding-method', '--masquerading': 'forwarding-method',
  '--timeout': 'timeout', '--exact': 'exact',
};

/** What ipvsadm knows and jailnet does not offer, each with the reason a user is told. */
const REFUSED: Record<string, string> = {
  '-g': 'direct routing (-g) is not offered: real servers are reached by NAT (-m)',
  '--gatewaying': 'direct routing (--gatewaying) is not offered: real servers are reached by NAT (-m)',
  '-i': 'tunnelling (-i) is not offered: real servers are reached by NAT (-m)',
  '--ipip': 'tunnelling (--ipip) is not offered: real servers are reached by NAT (-m)',
  '-f': 'firewall-mark services (-f) are not offered: give -t or -u ADDRESS:PORT',
  '--fwmark-service': 'firewall-mark services are not offered: give -t or -u ADDRESS:PORT',
  '--sctp-service': 'only TCP (-t) and UDP (-u) services are offered',
  '-M': 'a persistence netmask (-M) is not offered: persistence is per client address',
  '--netmask': 'a persistence netmask is not offered: persistence is per client address',
  '-R': 'give a batch with --restore -, not inside --parameters',
  '--restore': 'give a batch with --restore -, not inside --parameters',
};

export const PERSISTENCE_MAX = 2_678_400;
export const TIMEOUT_MAX = 1_296_000;
/** ipvsadm's value for a bare `-p` (IPVS_SVC_PERSISTENT_TIMEOUT in ipvsadm.c; its man page says 300). */
const DEFAULT_PERSISTENCE = 360;

const fail = (message: string): never => {
  throw new BalancerError(message);
};

function number(text: string | undefined, min: number, max: number, message: string): number {
  if (text === undefined || !/^\d{1,8}$/.test(text)) return fail(message);
  const value = Number(text);
  return value >= min && value <= max ? value : fail(message);
}

/** `A.B.C.D:PORT` (the port may be left out where `port` says so); IPv4 only, as the contract. */
function addressPort(text: string, what: string, port?: number): { address: string; port: number } {
  const message = `illegal ${what} address[:port] specified`;
  const match = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(text);
  const ip = match ? parseIP(match[1] as string) : null;
  if (!match || !ip || ip.family !== 4) return fail(message);
  if (match[2] === undefined) return port === undefined ? fail(message) : { address: match[1] as string, port };
  return { address: match[1] as string, port: number(match[2], 1, 65535, message) };
}

/** Expands popt's clustered short flags (`-Ln` → `-L -n`) and `--name=value`. */
function words(argv: string[]): string[] {
  return argv.flatMap((word) => {
    if (/^--[a-z-]+=/.test(word)) return [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)];
    if (/^-[A-Za-z]{2,}$/.test(word)) return [...word.slice(1)].map((c) => `-${c}`);
    return [word];
  });
}

interface Parsed {
  command?: CommandName;
  options: Map<OptionName, string>;
  protocol?: LbProtocol;
  positional: string[];
}

function takeWord(parsed: Parsed, word: string, next: string | undefined): number {
  const command = COMMANDS[word];
  if (command) {
    if (parsed.command) fail('multiple commands specified');
    parsed.command = command;
    return 0;
  }
  const option = VALUED[word] ?? FLAGS[word];
  if (option === undefined) {
    if (REFUSED[word]) fail(REFUSED[word] as string);
    if (word.startsWith('-') && word !== '-') fail(`${word}: unknown option`);
    parsed.positional.push(word);
    return 0;
  }
  if (parsed.options.has(option)) fail(`multiple '${option}' options specified`);
  if (option === 'service-address') parsed.protocol = /^(-u|--udp-service)$/.test(word) ? 'udp' : 'tcp';
  const optionalValue = option === 'persistent' && (next === undefined || !/^\d+$/.test(next));
  if (!(word in VALUED) || optionalValue) {
    parsed.options.set(option, '');
    return 0;
  }
  if (next === undefined) fail(`${word}: missing argument`);
  parsed.options.set(option, next as string);
  return 1;
}

function checkLegal(command: CommandName, options: Map<OptionName, string>): void {
  const legal = LEGAL[command];
  for (const option of options.keys()) if (!legal[option]) fail(`Illegal '${option}' option with the '${command}' command`);
  for (const [option, need] of Object.entries(legal)) {
    if (need === '+' && !options.has(option as OptionName)) fail(`You need to supply the '${option}' option for the '${command}' command`);
  }
}

function timeoutsOf(positional: string[]): Timeouts {
  if (positional.length < 3) fail('--set option requires 3 timeout values');
  if (positional.length > 3) fail(`unexpected argument ${positional[3]}`);
  const [tcp, tcpfin, udp] = positional.map((p) => number(p, 0, TIMEOUT_MAX, `invalid timeout value \`${p}' specified`)) as [number, number, number];
  return { tcp, tcpfin, udp };
}

function serviceOf(parsed: Parsed): ServiceKey {
  const { address, port } = addressPort(parsed.options.get('service-address') as string, 'virtual server');
  return { protocol: parsed.protocol as LbProtocol, address, port };
}

function persistenceOf(options: Map<OptionName, string>): { persistence?: number } {
  if (!options.has('persistent')) return {};
  const text = options.get('persistent') as string;
  if (text === '') return { persistence: DEFAULT_PERSISTENCE };
  return { persistence: number(text, 0, PERSISTENCE_MAX, `invalid timeout value \`${text}' specified`) };
}

function serviceCommand(command: 'add-service' | 'edit-service', parsed: Parsed): IpvsCommand {
  const service = serviceOf(parsed);
  const scheduler = parsed.options.get('scheduler');
  if (scheduler !== undefined && !/^[a-z]{1,15}$/.test(scheduler)) fail(`Scheduler or persistence engine not found`);
  // ipvsadm's default scheduler is wlc; the contract's docs make -s mandatory on add.
  if (command === 'add-service' && scheduler === undefined) fail("You need to supply the 'scheduler' option for the 'add-service' command");
  return command === 'add-service'
    ? { kind: command, service, scheduler: scheduler as string, ...persistenceOf(parsed.options) }
    : { kind: command, service, ...(scheduler ? { scheduler } : {}), ...persistenceOf(parsed.options) };
}

function serverCommand(command: 'add-server' | 'edit-server' | 'delete-server', parsed: Parsed, masquerade: Masquerade): IpvsCommand {
  // ipvsadm's default forwarding is direct routing; a restore line must say -m (the contract adds it to single commands only).
  if (command !== 'delete-server' && masquerade === 'required' && !parsed.options.has('forwarding-method')) {
    fail('a real server needs -m here: direct routing is not offered, real servers are reached by NAT');
  }
  const service = serviceOf(parsed);
  const server: ServerKey = addressPort(parsed.options.get('real-server') as string, 'real server', service.port);
  if (command === 'delete-server') return { kind: command, service, server };
  const weightText = parsed.options.get('weight');
  const weight = weightText === undefined ? {} : { weight: number(weightText, 0, 65535, 'illegal weight specified') };
  return { kind: command, service, server, ...weight };
}

/** Whether a real server without -m is taken as NAT (single commands, as the contract's CLI appends -m) or refused (restore lines). */
export type Masquerade = 'implied' | 'required';

function build(parsed: Parsed, masquerade: Masquerade): IpvsCommand {
  const command = parsed.command as CommandName;
  if (command !== 'set' && parsed.positional.length > 0) fail(`unexpected argument ${parsed.positional[0]}`);
  const numeric = parsed.options.has('numeric');
  switch (command) {
    case 'add-service':
    case 'edit-service':
      return serviceCommand(command, parsed);
    case 'delete-service':
      return { kind: command, service: serviceOf(parsed) };
    case 'add-server':
    case 'edit-server':
    case 'delete-server':
      return serverCommand(command, parsed, masquerade);
    case 'flush':
      return { kind: 'clear' };
    case 'set':
      return { kind: 'set-timeouts', timeouts: timeoutsOf(parsed.positional) };
    case 'save':
      return { kind: 'save', numeric };
    case 'list':
      return { kind: 'list', numeric, timeouts: parsed.options.has('timeout'), ...(parsed.options.has('service-address') ? { service: serviceOf(parsed) } : {}) };
  }
}

/** One ipvsadm command line (without the program name) as a command; throws ipvsadm's message. */
export function parseIpvsadm(argv: string[], masquerade: Masquerade = 'implied'): IpvsCommand {
  const list = words(argv);
  const parsed: Parsed = { options: new Map(), positional: [] };
  for (let i = 0; i < list.length; i++) i += takeWord(parsed, list[i] as string, list[i + 1]);
  if (!parsed.command) return fail('no command given: one of -A -E -D -a -e -d -C -L -S --set');
  checkLegal(parsed.command, parsed.options);
  return build(parsed, masquerade);
}

/** The contract's splitting: on whitespace, no quoting. */
export const splitParameters = (text: string): string[] => text.split(/\s+/).filter((w) => w !== '');
