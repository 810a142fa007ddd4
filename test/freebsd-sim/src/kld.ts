// kldload(8) and kldstat(8): the modules jailnet cares about, loadable only from the host.
import { ToolError } from './model.js';
import { ok, type ToolContext, type ToolOutput } from './tool.js';

const AVAILABLE: Record<string, string[]> = {
  pf: [],
  pflog: ['pf'],
  if_bridge: ['bridgestp'],
  bridgestp: [],
  if_epair: [],
  if_vxlan: [],
  if_tuntap: [],
  vmm: [],
};

function moduleName(arg: string): string {
  return arg.replace(/\.ko$/, '').replace(/^.*\//, '');
}

export function kldload(ctx: ToolContext, argv: string[]): ToolOutput {
  const quietIfLoaded = argv.some((a) => /^-[nqv]*n[nqv]*$/.test(a));
  const names = argv.filter((a) => !a.startsWith('-')).map(moduleName);
  if (names.length === 0) throw new ToolError('usage: kldload [-nqv] file ...\n', 1);
  for (const name of names) {
    if (!(name in AVAILABLE)) throw new ToolError(`kldload: can't load ${name}: No such file or directory\n`, 1);
    if (ctx.callerJid !== 0) throw new ToolError(`kldload: can't load ${name}: Operation not permitted\n`, 1);
    if (ctx.state.modules.includes(name)) {
      if (quietIfLoaded) continue;
      throw new ToolError(`kldload: can't load ${name}: module already loaded or in kernel\n`, 1);
    }
    for (const dep of [...(AVAILABLE[name] ?? []), name]) if (!ctx.state.modules.includes(dep)) ctx.state.modules.push(dep);
  }
  return ok();
}

export function kldstat(ctx: ToolContext, argv: string[]): ToolOutput {
  const quiet = argv.includes('-q');
  const byModule = argv.indexOf('-m');
  const byName = argv.indexOf('-n');
  const wanted = byModule >= 0 ? argv[byModule + 1] : byName >= 0 ? argv[byName + 1] : undefined;
  const modules = ctx.state.modules;
  if (wanted !== undefined) {
    const name = moduleName(wanted);
    if (!modules.includes(name)) {
      if (quiet) throw new ToolError('', 1);
      throw new ToolError(`kldstat: can't find ${byModule >= 0 ? 'module' : 'file'} ${name}: No such file or directory\n`, 1);
    }
    if (quiet) return ok();
    const id = modules.indexOf(name) + 2;
    return ok(`Id Refs Address                Size Name\n${String(id).padStart(2)}    1 0xffffffff82a18000    3a8c8 ${name}.ko\n`);
  }
  const rows = ['Id Refs Address                Size Name', ' 1   40 0xffffffff80200000  1f3e2d8 kernel'];
  modules.forEach((name, index) => rows.push(`${String(index + 2).padStart(2)}    1 0xffffffff82a18000    3a8c8 ${name}.ko`));
  return ok(rows.join('\n') + '\n');
}
