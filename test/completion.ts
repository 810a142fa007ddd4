// Shell completion generated from the command tree: bash completes every command path's
// subcommands and options (the tree walked here too, so a new command or option is
// covered without editing this test), global options after a subcommand, nothing after --.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/main.js';
import { jailnet } from './helpers/run.js';

/** COMPREPLY for the words typed, the last one being completed. */
function complete(script: string, words: string[]): string[] {
  const quoted = words.map((w) => `'${w}'`).join(' ');
  const probe = `${script}\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _jailnet; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['--norc', '--noprofile', '-c', probe], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.split('\n').filter(Boolean).sort();
}

function paths(command: Command, path: string[] = []): Array<{ path: string[]; subcommands: string[]; options: string[] }> {
  const options = command.options.filter((o) => !o.hidden).map((o) => o.long).filter((f): f is string => f !== undefined);
  return [{ path, subcommands: command.commands.map((c) => c.name()), options }, ...command.commands.flatMap((c) => paths(c, [...path, c.name()]))];
}

t.test('bash: every command path completes its subcommands and its options', async (t) => {
  const generated = await jailnet(['completion', 'bash']);
  t.equal(generated.code, 0, generated.stderr);
  const { program } = buildProgram({ stdout: () => undefined, stderr: () => undefined });
  const tree = paths(program);
  t.ok(tree.length > 30, 'the walk sees the whole tree');
  for (const node of tree) {
    if (node.subcommands.length > 0) t.same(complete(generated.stdout, ['jailnet', ...node.path, '']), [...node.subcommands].sort(), `jailnet ${node.path.join(' ')} <TAB>`);
    const options = complete(generated.stdout, ['jailnet', ...node.path, '--']);
    for (const option of node.options) t.ok(options.includes(option), `jailnet ${node.path.join(' ')} ${option}`);
  }
  t.same(complete(generated.stdout, ['jailnet', 'kata-ipvs', 'ipvsadm', 'p1', '--js']), ['--json'], 'global options after the subcommand');
  t.same(complete(generated.stdout, ['jailnet', '--json', 'netw']), ['network'], 'options before the subcommand are skipped');
  t.same(complete(generated.stdout, ['jailnet', 'container', 'exec', 'p1', 'c1', '--', '--js']), [], "nothing after --: the words are the container's");
});

t.test('zsh takes the same script through bashcompinit; sh is refused with the reason', async (t) => {
  t.equal((await jailnet(['completion', 'zsh'])).stdout, (await jailnet(['completion', 'bash'])).stdout);
  const sh = await jailnet(['completion', 'sh']);
  t.equal(sh.code, 1);
  t.equal(sh.stderr, 'jailnet: no completion for sh: bash and zsh (through bashcompinit) are supported; sh has no programmable completion\n');
});
