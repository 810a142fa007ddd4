// sysctl(8): per-vnet net.* values, host-wide read-only facts.
import { ToolError, contextVnet, mayConfigureNetwork, vnetOf } from './model.js';
import { GLOBAL_SYSCTLS, HOST, type Vnet } from './state.js';
import { ok, type ToolContext, type ToolOutput } from './tool.js';

const READ_ONLY = new Set(['kern.features.vimage', 'security.jail.jailed', 'kern.osrelease', 'net.fibs']);

function globalValue(ctx: ToolContext, name: string): string | undefined {
  if (name === 'kern.osrelease') return ctx.state.release;
  if (name === 'security.jail.jailed') return ctx.callerJid === 0 ? '0' : '1';
  return GLOBAL_SYSCTLS[name];
}

/** One `name` or `name=value` (sysctl.c parse()): its line of output, or a ToolError to warn. */
function setOrShow(ctx: ToolContext, vnet: Vnet, item: string, valueOnly: boolean, ignoreUnknown: boolean): string {
  const eq = item.indexOf('=');
  const name = eq < 0 ? item : item.slice(0, eq);
  const perVnet = name in vnet.sysctls;
  const current = perVnet ? vnet.sysctls[name] : globalValue(ctx, name);
  if (current === undefined) {
    if (ignoreUnknown) return '';
    throw new ToolError(`sysctl: unknown oid '${name}'\n`, 1);
  }
  if (eq < 0) return valueOnly ? `${current}\n` : `${name}: ${current}\n`;
  const value = item.slice(eq + 1);
  if (READ_ONLY.has(name)) throw new ToolError(`sysctl: oid '${name}' is read only\n`, 1);
  if ((!perVnet && vnet.id !== HOST) || !mayConfigureNetwork(ctx.state, ctx.callerJid)) {
    throw new ToolError(`sysctl: ${name}=${value}: Operation not permitted\n`, 1);
  }
  if (!/^-?\d+$/.test(value)) throw new ToolError(`sysctl: invalid integer '${value}'\n`, 1);
  vnet.sysctls[name] = value;
  return valueOnly ? `${value}\n` : `${name}: ${current} -> ${value}\n`;
}

export function sysctl(ctx: ToolContext, argv: string[]): ToolOutput {
  let valueOnly = false;
  let ignoreUnknown = false;
  const names: string[] = [];
  for (const arg of argv) {
    if (/^-[niq]+$/.test(arg)) {
      valueOnly ||= arg.includes('n');
      ignoreUnknown ||= arg.includes('i');
    } else if (arg.startsWith('-')) {
      throw new ToolError(`sysctl: illegal option -- ${arg.slice(1, 2)}\nusage: sysctl [-j jail] [-bdeFhiNnoqTtWx] [ -B <bufsize> ] [-f filename] name[=value] ...\n       sysctl [-j jail] [-bdeFhNnoqTtWx] [ -B <bufsize> ] -a\n`, 1);
    } else names.push(arg);
  }
  const vnet = vnetOf(ctx.state, contextVnet(ctx.state, ctx.callerJid));
  const out: string[] = [];
  const warnings: string[] = [];
  for (const item of names) {
    try {
      out.push(setOrShow(ctx, vnet, item, valueOnly, ignoreUnknown));
    } catch (error) {
      if (!(error instanceof ToolError)) throw error;
      warnings.push(error.stderr);
    }
  }
  // sbin/sysctl/sysctl.c main: each name is parsed in turn, a failing one is a warning and
  // the next is still done; the exit status is the number of failures (warncount).
  if (warnings.length > 0) throw new ToolError(warnings.join(''), warnings.length, out.join(''));
  return ok(out.join(''));
}
