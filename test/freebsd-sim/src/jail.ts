// jail(8) -c / -r and jls(8): creation rules of kern_jail.c (names, parents, vnet
// versus ip4/ip6, children.max along the caller's chain), dying jails, jls formats.
import { existsSync } from 'node:fs';
import {
  ToolError,
  contextVnet,
  createVnetFor,
  findIface,
  isDescendant,
  jailByJid,
  lookupJail,
  moveIface,
  relativeName,
  removeJailTree,
} from './model.js';
import type { Jail, SimState } from './state.js';
import { ok, type ToolContext, type ToolOutput } from './tool.js';

const jailFail = (message: string): never => {
  throw new ToolError(`jail: ${message}\n`, 1);
};

const KNOWN_PARAMS = new Set([
  'name', 'jid', 'path', 'persist', 'vnet', 'vnet.interface', 'ip4', 'ip6', 'ip4.addr', 'ip6.addr',
  'children.max', 'host.hostname', 'host', 'enforce_statfs', 'devfs_ruleset', 'mount.devfs',
  'securelevel', 'osrelease', 'osreldate',
]);

function parseParams(args: string[]): Map<string, string> {
  const params = new Map<string, string>();
  for (const arg of args) {
    const eq = arg.indexOf('=');
    let key = eq < 0 ? arg : arg.slice(0, eq);
    let value = eq < 0 ? 'true' : arg.slice(eq + 1);
    if (eq < 0 && key.startsWith('no') && (KNOWN_PARAMS.has(key.slice(2)) || key.startsWith('noallow.'))) {
      key = key.slice(2);
      value = 'false';
    }
    if (eq < 0 && key === 'vnet') value = 'new';
    if (!KNOWN_PARAMS.has(key) && !key.startsWith('allow.')) jailFail(`unknown parameter: ${key}`);
    params.set(key, value);
  }
  return params;
}

const INTEGER_PARAMS = ['jid', 'children.max', 'enforce_statfs', 'devfs_ruleset', 'securelevel'];
/** Parameters of type jailsys (sys/kern/kern_jail.c) and boolean ones jail(8) can be given. */
const JAILSYS_PARAMS = ['vnet', 'host', 'ip4', 'ip6'];
/** pr_flag_jailsys in kern_jail.c: only ip4 and ip6 have a "disable" flag. */
const DISABLEABLE = ['ip4', 'ip6'];
const JAILSYS_VALUES = ['disable', 'new', 'inherit'];
const BOOLEAN_VALUES = ['false', 'true'];
const BOOLEAN_PARAMS = ['persist', 'mount.devfs'];

/**
 * jailparam_import_enum (lib/libjail/jail.c): a name of the enum, any case, or an integer
 * (which stands for the name at that index).
 */
function importEnum(names: string[], value: string): string | undefined {
  const named = names.find((n) => n === value.toLowerCase());
  if (named) return named;
  if (!/^-?\d+$/.test(value)) return undefined;
  return names[Number(value)] ?? value;
}

/**
 * The value checks of jailparam_import (lib/libjail/jail.c), whose texts jail(8) prints:
 * `P: unknown jailsys value "V"`, `P: unknown boolean value "V"`, `P: non-integer value "V"`.
 * Values come back normalised to the enum's names.
 */
function importValues(params: Map<string, string>): void {
  for (const [key, value] of params) {
    if (JAILSYS_PARAMS.includes(key)) {
      // An empty jailsys value means "new" (jailparam_import's booleanesque form).
      const imported = value === '' ? 'new' : importEnum(JAILSYS_VALUES, value);
      if (imported === undefined) jailFail(`${key}: unknown jailsys value "${value}"`);
      params.set(key, imported as string);
    } else if (BOOLEAN_PARAMS.includes(key) || key.startsWith('allow.')) {
      const imported = importEnum(BOOLEAN_VALUES, value);
      if (imported === undefined) jailFail(`${key}: unknown boolean value "${value}"`);
      // Any integer but 0 is true, as the kernel's vfs_flagopt takes it.
      params.set(key, imported === 'false' ? 'false' : 'true');
    } else if (INTEGER_PARAMS.includes(key) && !/^-?\d+$/.test(value)) {
      jailFail(`${key}: non-integer value "${value}"`);
    }
  }
}

/**
 * kern_jail_set (sys/kern/kern_jail.c) after the import: a jailsys value other than
 * disable/new/inherit, or `disable` for a parameter without a disable flag (vnet, host),
 * is EINVAL with no message of its own, which libjail words as `jail_set: <strerror>`.
 */
function checkJailsys(params: Map<string, string>): void {
  for (const key of JAILSYS_PARAMS) {
    const value = params.get(key);
    if (value === undefined) continue;
    if (!JAILSYS_VALUES.includes(value) || (value === 'disable' && !DISABLEABLE.includes(key))) jailFail('jail_set: Invalid argument');
  }
}

function create(ctx: ToolContext, args: string[]): ToolOutput {
  const { state } = ctx;
  const params = parseParams(args);
  importValues(params);
  checkJailsys(params);
  const statfs = params.get('enforce_statfs');
  if (statfs !== undefined && !['0', '1', '2'].includes(statfs)) jailFail('jail_set: Invalid argument');
  const vnetParam = params.get('vnet');
  const hasIpParam = ['ip4', 'ip6', 'ip4.addr', 'ip6.addr'].some((k) => params.has(k));
  if (vnetParam !== undefined && hasIpParam) jailFail('vnet jails cannot have IP address restrictions');
  // children.max is checked along the caller's chain, before anything else.
  for (let j = jailByJid(state, ctx.callerJid); j; j = jailByJid(state, j.parent)) {
    if (j.childrenMax === 0) jailFail('jail_set: Operation not permitted');
    const live = state.jails.filter((c) => c.parent === j!.jid && !c.dying).length;
    if (live >= j.childrenMax) jailFail('prison limit exceeded');
  }
  const nextJid = params.has('jid') ? Number(params.get('jid')) : nextFreeJid(state);
  if (params.has('jid') && state.jails.some((j) => j.jid === nextJid)) jailFail(`jail ${nextJid} already exists`);
  const relative = params.get('name') ?? String(nextJid);
  if (/^\d+$/.test(relative) && Number(relative) !== nextJid) jailFail('name cannot be numeric (unless it is the jid)');
  const caller = jailByJid(state, ctx.callerJid);
  const fullName = caller ? `${caller.name}.${relative}` : relative;
  const dot = fullName.lastIndexOf('.');
  let parent: Jail | undefined = caller;
  if (dot >= 0 && (!caller || fullName.slice(0, dot) !== caller.name)) {
    const parentName = fullName.slice(0, dot);
    const candidates = state.jails.filter((j) => j.name === parentName);
    parent = candidates.find((j) => !j.dying);
    if (!parent) jailFail(candidates.length > 0 ? `jail "${relativeName(state, candidates[0]!, ctx.callerJid)}" is dying` : `jail "${parentName.slice(caller ? caller.name.length + 1 : 0)}" not found`);
  }
  if (state.jails.some((j) => j.name === fullName && !j.dying)) jailFail(`"${relative}" already exists`);
  // A child may not be allowed more children than its parent (kern_jail.c: EPERM).
  if (parent && params.has('children.max') && Number(params.get('children.max')) >= parent.childrenMax) {
    jailFail('jail_set: Operation not permitted');
  }
  const path = params.get('path') ?? '/';
  if (!existsSync(path)) jailFail(`path ${path}: No such file or directory`);
  const persist = params.get('persist') === 'true';
  if (!persist) jailFail('new jail must persist or attach');

  const jid = nextJid;
  state.lastJid = Math.max(state.lastJid, jid);
  const parentVnet = parent ? parent.vnetId : contextVnet(state, 0);
  const mode = (key: 'ip4' | 'ip6'): Jail['ip4'] => {
    const value = params.get(key) ?? (params.has(`${key}.addr`) ? 'new' : undefined);
    if (value === 'inherit' || value === 'new' || value === 'disable') return value;
    // No ip4 at all on a non-vnet jail: new, with an empty list.
    return vnetParam === 'new' ? 'inherit' : 'new';
  };
  const jail: Jail = {
    jid,
    name: fullName,
    parent: parent?.jid ?? 0,
    path,
    persist,
    vnet: vnetParam === 'new' ? 'new' : 'inherit',
    vnetId: parentVnet,
    ip4: mode('ip4'),
    ip6: mode('ip6'),
    childrenMax: Number(params.get('children.max') ?? 0),
    hostname: params.get('host.hostname') ?? (parent ? parent.hostname : 'host'),
    dying: false,
    params: Object.fromEntries(params),
  };
  state.jails.push(jail);
  if (jail.vnet === 'new') jail.vnetId = createVnetFor(state, jid);
  const moved = params.get('vnet.interface');
  if (moved) {
    const iface = findIface(state, parentVnet, moved);
    if (!iface || jail.vnet !== 'new') {
      state.jails = state.jails.filter((j) => j.jid !== jid);
      state.vnets = state.vnets.filter((v) => v.id !== jail.vnetId || jail.vnet !== 'new');
      jailFail(`${relative}: /sbin/ifconfig ${moved} vnet ${relative}: failed`);
    }
    moveIface(state, iface!, jail.vnetId);
  }
  return ok();
}

/** Ids grow: the next after the last allocated, skipping ids in use. */
function nextFreeJid(state: SimState): number {
  let jid = state.lastJid + 1;
  while (state.jails.some((j) => j.jid === jid)) jid++;
  return jid;
}

function remove(ctx: ToolContext, key: string): ToolOutput {
  const jail = lookupJail(ctx.state, key, ctx.callerJid);
  if (!jail) jailFail(`"${key}" not found`);
  removeJailTree(ctx.state, jail!);
  return ok();
}

export function jailTool(ctx: ToolContext, argv: string[]): ToolOutput {
  const flags = argv[0] ?? '';
  if (flags === '-c' || flags === '-qc' || flags === '-cq') return create(ctx, argv.slice(1));
  if (flags === '-r') {
    if (argv.length < 2) throw new ToolError('usage: jail [-dhilqv] [-J jid_file] [-u username] [-U username] -r jail\n', 1);
    for (const key of argv.slice(1)) remove(ctx, key);
    return ok();
  }
  // usr.sbin/jail/jail.c usage(), the version with `-e separator`: fprintf, then exit(1).
  throw new ToolError(
    'usage: jail [-dhilqv] [-J jid_file] [-u username] [-U username]\n' +
      '            -[cmr] param=value ... [command=command ...]\n' +
      '       jail [-dqv] [-f file] [-e separator] -[cmr] [jail]\n' +
      "       jail [-qv] [-f file] -[rR] ['*' | jail ...]\n" +
      '       jail [-dhilqv] [-J jid_file] [-u username] [-U username]\n' +
      '            [-n jailname] [-s securelevel]\n' +
      '            path hostname [ip[,...]] command ...\n',
    1,
  );
}

// jls(8)

const JLS_PARAMS = new Set([
  'jid', 'name', 'parent', 'path', 'host.hostname', 'hostname', 'vnet', 'ip4', 'ip6', 'persist', 'dying',
  'children.max', 'children.cur', 'ip4.addr', 'ip6.addr', 'enforce_statfs',
]);

function paramValue(state: SimState, jail: Jail, param: string, callerJid: number): { value: string; bool?: boolean } {
  switch (param) {
    case 'jid':
      return { value: String(jail.jid) };
    case 'name':
      return { value: relativeName(state, jail, callerJid) };
    case 'parent':
      return { value: String(jail.parent === callerJid ? 0 : jail.parent) };
    case 'path':
      return { value: jail.path };
    case 'host.hostname':
    case 'hostname':
      return { value: jail.hostname };
    case 'vnet':
      return { value: jail.vnet };
    case 'ip4':
      return { value: jail.ip4 };
    case 'ip6':
      return { value: jail.ip6 };
    case 'persist':
      return { value: String(jail.persist), bool: jail.persist };
    case 'dying':
      return { value: String(jail.dying), bool: jail.dying };
    case 'children.max':
      return { value: String(jail.childrenMax) };
    case 'children.cur':
      return { value: String(state.jails.filter((j) => j.parent === jail.jid && !j.dying).length) };
    case 'enforce_statfs':
      return { value: jail.params.enforce_statfs ?? '2' };
    default:
      return { value: '' };
  }
}

function quote(value: string, quoting: boolean): string {
  return quoting && (value === '' || /\s/.test(value)) ? `"${value.replace(/"/g, '\\"')}"` : value;
}

interface JlsOptions {
  dying: boolean;
  header: boolean;
  nameValue: boolean;
  quoting: boolean;
  jailName: boolean;
  only?: string;
  params: string[];
}

/** jls.c main: getopt("adj:hNnqsv"); -a is -d; anything else is xo_errx(1, "usage: …"). */
function jlsOptions(argv: string[]): JlsOptions {
  const o: JlsOptions = { dying: false, header: false, nameValue: false, quoting: false, jailName: false, params: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-j') o.only = argv[++i];
    else if (/^-[adhnqsvN]+$/.test(arg)) {
      o.dying ||= /[ad]/.test(arg);
      o.header ||= arg.includes('h');
      o.nameValue ||= arg.includes('n') || arg.includes('s');
      o.quoting ||= arg.includes('q') || arg.includes('s');
      o.jailName ||= arg.includes('N');
    } else if (arg.startsWith('-')) {
      throw new ToolError(`jls: illegal option -- ${arg.slice(1, 2)}\njls: usage: jls [-dhNnqv] [-j jail] [param ...]\n`, 1);
    } else {
      if (!JLS_PARAMS.has(arg)) throw new ToolError(`jls: unknown parameter: ${arg}\n`, 1);
      o.params.push(arg);
    }
  }
  return o;
}

/**
 * jls's default table (jls.c print_jail, PRINT_DEFAULT, the libxo version of 11.0 and later):
 * JID, or with -N the name in 15 columns; the first ip4.addr, or an empty string when there is
 * none (every vnet and inherit jail) — `-` only in a kernel without INET, and in the printf
 * version before libxo.
 */
function defaultTable(state: SimState, jails: Jail[], callerJid: number, jailName: boolean): ToolOutput {
  const head = jailName ? ' JID             IP Address      Hostname                      Path' : '   JID  IP Address      Hostname                      Path';
  const rows = jails.map((j) => {
    const first = jailName ? ` ${relativeName(state, j, callerJid).padEnd(15)} ` : `${String(j.jid).padStart(6)}  `;
    return `${first}${''.padEnd(15)} ${j.hostname.padEnd(29).slice(0, 29)} ${j.path.slice(0, 74)}`;
  });
  return ok([head, ...rows].join('\n') + '\n');
}

export function jls(ctx: ToolContext, argv: string[]): ToolOutput {
  const { state } = ctx;
  const { dying, header, nameValue, quoting, jailName, only, params } = jlsOptions(argv);
  let jails = state.jails.filter((j) => isDescendant(state, j, ctx.callerJid) && (dying || !j.dying)).sort((a, b) => a.jid - b.jid);
  if (only !== undefined) {
    const jail = lookupJail(state, only, ctx.callerJid, dying);
    // kern_jail_get's texts: "jail %d not found" for a jid (jls takes a non-zero number as
    // one), "jail \"%s\" not found" for a name.
    if (!jail && /^\d+$/.test(only) && Number(only) !== 0) throw new ToolError(`jls: jail ${Number(only)} not found\n`, 1);
    if (!jail) throw new ToolError(`jls: jail "${only}" not found\n`, 1);
    jails = [jail];
  }
  if (params.length === 0 && !nameValue) return defaultTable(state, jails, ctx.callerJid, jailName);
  const shown = params.length > 0 ? params : ['jid', 'name', 'path', 'host.hostname', 'vnet', 'persist', 'dying', 'children.max'];
  const lines: string[] = [];
  if (header && !nameValue) lines.push(shown.join(' '));
  for (const jail of jails) {
    const values = shown.map((p) => {
      const { value, bool } = paramValue(state, jail, p, ctx.callerJid);
      if (nameValue) return bool === undefined ? `${p}=${quote(value, quoting)}` : bool ? p : `no${p}`;
      return quote(value, quoting);
    });
    lines.push(values.join(' '));
  }
  return ok(lines.length > 0 ? lines.join('\n') + '\n' : '');
}

/**
 * jexec's jail lookup (jexec.c): libjail jail_getid takes a number as it is, so an unknown
 * jid fails only at jail_attach, err(1, "jail_attach(%d)") with EINVAL; a name is looked up
 * among live jails (`jail "X" not found`).
 */
export function jexecTarget(state: SimState, key: string, callerJid: number): Jail {
  const jail = lookupJail(state, key, callerJid);
  if (!jail && /^\d+$/.test(key)) throw new ToolError(`jexec: jail_attach(${Number(key)}): Invalid argument\n`, 1);
  if (!jail) throw new ToolError(`jexec: jail "${key}" not found\n`, 1);
  return jail;
}
