// The manual pages cannot drift from the program: every command and option of the CLI
// appears in jailnet(8), every jailnet.conf key in jailnet.conf(5), and mandoc's lint
// finds nothing but references to pages this Linux machine does not have.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';
import { configKeys } from '../src/config/jailnet-conf.js';

const PAGES = ['man/jailnet.8', 'man/jailnet.conf.5', 'man/jailnet-cni.8'];

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

t.test('mandoc lint: nothing but pages this machine does not have', async (t) => {
  for (const page of PAGES) {
    const lint = mandoc(['-T', 'lint', page]);
    const findings = lint.stderr.split('\n').filter((l) => l !== '' && !/referenced manual not found|outdated mandoc\.db/.test(l));
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

t.test('every plugin jailnet installs is in jailnet-cni(8)', async (t) => {
  const text = rendered('man/jailnet-cni.8');
  const { readdirSync } = await import('node:fs');
  const plugins = readdirSync('libexec/cni');
  t.ok(plugins.length >= 6);
  for (const plugin of plugins) t.ok(text.includes(plugin), `plugin ${plugin}`);
});
