// The manual pages cannot drift from the program: every command and option of the CLI
// appears in jailnet(8), every jailnet.conf key in jailnet.conf(5), and mandoc's lint
// finds nothing but references to pages this Linux machine does not have.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';
import { configKeys } from '../src/config/jailnet-conf.js';
import { IpamSchema } from '../src/ipam/config.js';
import { BridgeConfSchema } from '../src/plugins/bridge/config.js';
import { FirewallConfSchema } from '../src/plugins/firewall.js';
import { PortmapConfSchema } from '../src/plugins/portmap.js';
import { StaticIpamSchema } from '../src/plugins/static.js';
import { DnsnameConfSchema } from '../src/plugins/dnsname.js';
import { TuningConfSchema } from '../src/plugins/tuning.js';

const PAGES = ['man/jailnet.8', 'man/jailnet.conf.5', 'man/jailnet-cni.8', 'man/jailnet-netavark.8'];

function mandoc(args: string[]): { code: number; stdout: string; stderr: string } {
  const run = spawnSync('mandoc', args, { encoding: 'utf8' });
  if (run.error) throw new Error(`mandoc is not installed (.ci/run installs it): ${run.error.message}`);
  return { code: run.status ?? -1, stdout: run.stdout, stderr: run.stderr };
}

/** The page as a reader sees it, one space between words. */
function rendered(page: string): string {
  return mandoc(['-T', 'ascii', page]).stdout.replace(/.\x08/g, '').replace(/\s+/g, ' ');
}

function commands(command: Command, path: string[] = []): Array<{ path: string; options: string[] }> {
  return command.commands.flatMap((sub) => {
    const here = [...path, sub.name()];
    const options = sub.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
    return [{ path: here.join(' '), options }, ...commands(sub, here)];
  });
}

/**
 * The pages the manuals refer to that mandoc's lint cannot find here: it looks for a
 * reference only under /usr/share/man (main.c check_xr, manpath_base), where this Debian
 * machine has none of FreeBSD's pages, FreeBSD keeps no port's page, and ours are not
 * installed. Any other reference is a typo: lint reports it and this test fails.
 */
const ELSEWHERE = new Set([
  // jailnet's own pages (the port installs them under /usr/local/share/man)
  'jailnet(8)', 'jailnet.conf(5)', 'jailnet-cni(8)', 'jailnet-netavark(8)',
  // FreeBSD's base system
  'pf.conf(5)', 'pf(4)', 'pfctl(8)', 'jail(8)', 'jail.conf(5)', 'jexec(8)', 'ifconfig(8)', 'route(8)',
  'if_bridge(4)', 'epair(4)', 'daemon(8)', 'nc(1)', 'sh(1)',
  // ports: sysutils/podman, sysutils/buildah, www/node20, graphics/graphviz
  'podman(1)', 'buildah(1)', 'node(1)', 'dot(1)',
]);

function unexplained(line: string): boolean {
  if (line === '' || /outdated mandoc\.db/.test(line)) return false;
  const missing = /referenced manual not found: Xr (\S+) (\S+)/.exec(line);
  return !missing || !ELSEWHERE.has(`${missing[1]}(${missing[2]})`);
}

t.test('mandoc lint: nothing but references to pages kept elsewhere', async (t) => {
  for (const page of PAGES) {
    const lint = mandoc(['-T', 'lint', page]);
    const findings = `${lint.stdout}\n${lint.stderr}`.split('\n').filter(unexplained);
    t.same(findings, [], `${page} is lint clean`);
    t.equal(mandoc(['-T', 'lint', '-W', 'warning', page]).code, 0, `${page}: no warning or error`);
  }
});

t.test('every CLI command and option is in jailnet(8)', async (t) => {
  const text = rendered('man/jailnet.8');
  const { program } = buildProgram({ stdout: () => undefined, stderr: () => undefined });
  const global = program.options.flatMap((o) => [o.long, o.short].filter((f): f is string => f !== undefined));
  for (const flag of global) t.ok(text.includes(flag), `global option ${flag}`);
  const all = commands(program);
  t.ok(all.length > 25, 'the walk sees every command');
  for (const { path, options } of all) {
    t.ok(text.includes(path), `command "${path}"`);
    for (const flag of options) t.ok(text.includes(`${flag} `) || text.includes(`${flag},`), `"${path}" option ${flag}`);
  }
});

t.test('every jailnet.conf key is in jailnet.conf(5)', async (t) => {
  const text = rendered('man/jailnet.conf.5');
  const keys = configKeys();
  t.ok(keys.length >= 10, 'the schema lists its keys');
  for (const { section, key } of keys) {
    t.ok(text.includes(`[${section}]`), `section [${section}]`);
    t.ok(text.includes(`${key} =`), `key ${section}.${key}`);
  }
});

t.test("every plugin's configuration field is in jailnet-cni(8)", async (t) => {
  const text = rendered('man/jailnet-cni.8');
  const schemas: Record<string, { shape: Record<string, unknown> }> = {
    bridge: BridgeConfSchema,
    'host-local': IpamSchema,
    portmap: PortmapConfSchema,
    firewall: FirewallConfSchema,
    tuning: TuningConfSchema,
    static: StaticIpamSchema,
    dnsname: DnsnameConfSchema,
  };
  // CNI's envelopes: what a plugin reads inside them is named with it (runtimeConfig.mac).
  const envelope = new Set(['args', 'runtimeConfig']);
  for (const [plugin, schema] of Object.entries(schemas)) {
    const fields = Object.keys(schema.shape).filter((f) => !envelope.has(f));
    t.ok(fields.length > 0, `${plugin} has fields`);
    for (const field of fields) t.ok(new RegExp(`\\b${field}\\b`).test(text), `${plugin} field ${field}`);
  }
});

t.test('every plugin jailnet installs is in jailnet-cni(8)', async (t) => {
  const text = rendered('man/jailnet-cni.8');
  const { readdirSync } = await import('node:fs');
  const plugins = readdirSync('libexec/cni');
  t.ok(plugins.length >= 6);
  for (const plugin of plugins) t.ok(text.includes(plugin), `plugin ${plugin}`);
});
