// Shell completion generated from the command tree: bash completes every command path's
// subcommands and options (the tree walked here too, so a new command or option is
// covered without editing this test), global options after a subcommand, nothing after --;
// tcsh asks `jailnet completion --words` the same walk, checked as data, through the
// process, and in a real interactive tcsh on a pseudo-terminal.
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Command } from 'commander';
import { completionWords } from '../src/cli/completion.js';
import { buildProgram } from '../src/cli/main.js';
import { JAILNET, jailnet } from './helpers/run.js';

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
  t.equal(sh.stderr, 'jailnet: no completion for sh: it has no programmable completion; bash, zsh (through bashcompinit) and tcsh are supported\n');
  t.equal((await jailnet(['completion', 'fish'])).code, 1);
});

t.test("tcsh's words: the same walk as bash's, for every command path", async (t) => {
  const { program } = buildProgram({ stdout: () => undefined, stderr: () => undefined });
  const globals = program.options.map((o) => o.long).filter((f): f is string => f !== undefined && f !== '--version');
  const words = (line: string) => completionWords(program, globals, line).sort();
  for (const node of paths(program)) {
    const typed = ['jailnet', ...node.path].join(' ');
    if (node.subcommands.length > 0) t.same(words(`${typed} `), [...node.subcommands].sort(), `${typed} <TAB>`);
    const options = words(`${typed} --`);
    for (const option of node.options) t.ok(options.includes(option), `${typed} ${option}`);
  }
  t.same(words('jailnet kata-ipvs ipvsadm p1 --js'), ['--json'], 'global options after the subcommand');
  t.same(words('  jailnet --json netw'), ['network'], 'options before the subcommand are skipped');
  t.same(words('jailnet container exec p1 c1 -- --js'), [], 'nothing after --');
  const viaProcess = await jailnet(['completion', '--words'], { COMMAND_LINE: 'jailnet pod ins' });
  t.equal(viaProcess.stdout, 'inspect\n', 'the process prints them one a line from $COMMAND_LINE');
  t.equal((await jailnet(['completion', '--words'], { COMMAND_LINE: 'jailnet zzz' })).stdout, '', 'nothing fits: nothing printed');
});

/** An interactive tcsh on a pseudo-terminal (script(1)), fed a line once what came before is on screen. */
async function tcshSession(t: Test, env: NodeJS.ProcessEnv) {
  const shell = spawn('script', ['-q', '-c', 'tcsh -f -i', '/dev/null'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => void shell.kill('SIGKILL'));
  let screen = '';
  shell.stdout.on('data', (chunk: Buffer) => void (screen += chunk.toString()));
  const waitFor = async (pattern: RegExp, what: string) => {
    const deadline = Date.now() + 30_000;
    while (!pattern.test(screen)) {
      if (Date.now() > deadline) throw new Error(`tcsh never showed ${what}: ${JSON.stringify(screen.slice(-400))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  return { type: (text: string) => shell.stdin.write(text), waitFor, screen: () => screen };
}

t.test('tcsh: the script sourced in a real tcsh completes a subcommand and a global option', { skip: spawnSync('tcsh', ['-f', '-c', 'exit']).error ? 'tcsh is not installed (.ci/run installs it)' : false }, async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jailnet-tcsh-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  await fs.mkdir(path.join(dir, 'bin'));
  await fs.symlink(JAILNET, path.join(dir, 'bin', 'jailnet'));
  await fs.writeFile(path.join(dir, 'jailnet.tcsh'), (await jailnet(['completion', 'tcsh'])).stdout);
  t.equal((await jailnet(['completion', 'csh'])).stdout, (await jailnet(['completion', 'tcsh'])).stdout, "FreeBSD's csh is tcsh");
  const env = { PATH: `${path.join(dir, 'bin')}:${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir, TERM: 'xterm' };
  const tcsh = await tcshSession(t, env);
  await tcsh.waitFor(/[#>%] $/, 'a prompt');
  tcsh.type(`source ${path.join(dir, 'jailnet.tcsh')}\n`);
  // TAB completes the word in place; ^A goes to the line's start, where `echo ` makes it printable.
  tcsh.type('jailnet netw\t');
  await tcsh.waitFor(/jailnet network /, 'network completed');
  tcsh.type('\x01echo \n');
  await tcsh.waitFor(/^jailnet network\r?$/m, 'the completed line echoed');
  tcsh.type('jailnet kata-ipvs ipvsadm p1 --js\t');
  await tcsh.waitFor(/--json /, '--json completed');
  tcsh.type('\x01echo \n');
  await tcsh.waitFor(/^jailnet kata-ipvs ipvsadm p1 --json\r?$/m, 'the completed line echoed');
  t.pass('tcsh completed both');
  tcsh.type('exit\n');
});
