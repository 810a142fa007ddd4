// Progress on long work (issue 16): a line on a terminal for pod restore, gc and a large
// kata-ipvs restore; nothing when stdout or stderr is not a terminal, or with --json.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import { restoreRules } from '../src/balancer/restore.js';
import { emptyRules } from '../src/balancer/rules.js';
import { terminalProgress, type ProgressFactory } from '../src/util/progress.js';
import { podLab, type PodLab } from './helpers/pods.js';
import { JAILNET } from './helpers/run.js';
import { setup } from './helpers/sim.js';

const ERASE = '\r\x1b[K';

t.test('the line is redrawn at most every 100 ms, always at the last step, and cleared', async (t) => {
  let clock = 0;
  const written: string[] = [];
  const progress = terminalProgress((text) => written.push(text), () => clock)('restoring pods', 4);
  progress.step('a');
  clock = 50;
  progress.step('b');
  clock = 200;
  progress.step('c');
  clock = 210;
  progress.step('d');
  progress.done();
  t.same(written, [`${ERASE}restoring pods: 1/4 a`, `${ERASE}restoring pods: 3/4 c`, `${ERASE}restoring pods: 4/4 d`, ERASE]);
  const silent: string[] = [];
  terminalProgress((text) => silent.push(text))('nothing', 0).done();
  t.same(silent, [], 'work without steps draws and clears nothing');
});

t.test('a kata-ipvs restore counts its lines', async (t) => {
  const steps: Array<[string, number, number]> = [];
  let closed = 0;
  const recording: ProgressFactory = (label, total) => ({
    step: () => steps.push([label, steps.length + 1, total]),
    done: () => void closed++,
  });
  const text = Array.from({ length: 50 }, (_, i) => `-A -t 10.9.0.${i + 1}:80 -s rr`).join('\n');
  restoreRules(emptyRules(), `${text}\n`, { replace: false }, recording);
  t.equal(steps.length, 50);
  t.same(steps.at(-1), ['reading rules', 50, 50]);
  t.equal(closed, 1, 'the line is cleared once');
  t.throws(() => restoreRules(emptyRules(), '-A -t 10.9.0.1:80 -s rr\n-A -t bogus\n', { replace: false }, recording));
  t.equal(closed, 2, 'and cleared when a line is refused');
});

/** `jailnet ARGS` with a pseudo-terminal as stdin, stdout and stderr (util-linux script(1)). */
function onTerminal(lab: PodLab, args: string[]): string {
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  const env = Object.entries(lab.env).map(([k, v]) => `${k}=${v}`);
  const conf = lab.env.JAILNET_CONFIG as string;
  const command = ['env', '-i', ...env, process.execPath, JAILNET, '--config', conf, ...args].map(quote).join(' ');
  return execFileSync('script', ['-q', '-e', '-c', command, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
}

t.test('pod restore and gc draw progress on a terminal only', async (t) => {
  const lab = await podLab(t);
  t.equal((await lab.jailnet(['network', 'create', 'net1', '--subnet', '10.89.8.0/24'])).code, 0);
  for (const name of ['p1', 'p2', 'p3']) t.equal((await lab.jailnet(['pod', 'create', name, '--network', 'net1', '--restart', 'always'])).code, 0);
  t.equal((await lab.jailnet(['pod', 'rm', '--all'])).code, 0);

  const restore = onTerminal(lab, ['pod', 'restore']);
  t.match(restore, `${ERASE}restoring pods: 3/3 p3`, 'the last step is drawn');
  t.match(restore, new RegExp(`${ERASE.replace('[', '\\[')}restored p1`), 'and the line is cleared before the answer');
  t.equal((await lab.jailnet(['pod', 'rm', '--all'])).code, 0);

  const json = onTerminal(lab, ['--json', 'pod', 'restore']);
  t.notMatch(json, '\x1b[K', 'nothing extra with --json');
  t.match(JSON.parse(json.trim()), [{ name: 'p1' }, { name: 'p2' }, { name: 'p3' }]);

  const gc = onTerminal(lab, ['gc']);
  t.match(gc, `${ERASE}checking pods: 3/3`);
  const piped = await lab.jailnet(['gc']);
  t.equal(piped.stderr, '', 'nothing on stderr when it is not a terminal');
  t.notMatch(piped.stdout, '\x1b[');
});

t.test('repair draws its reading of the pods and its repairs on a terminal only', async (t) => {
  const lab = await podLab(t);
  t.equal((await lab.jailnet(['network', 'create', 'net1', '--subnet', '10.89.9.0/24'])).code, 0);
  for (const name of ['p1', 'p2', 'p3']) t.equal((await lab.jailnet(['pod', 'create', name, '--network', 'net1'])).code, 0);
  const jailOf = async (pod: string) => (JSON.parse((await lab.jailnet(['pod', 'inspect', pod])).stdout) as { jail: string }).jail;
  await setup(lab.sim, [['ifconfig', '-j', await jailOf('p2'), 'eth0', 'down']]);

  const repair = onTerminal(lab, ['repair']);
  t.match(repair, /\r\x1b\[Kchecking pods: (\d+)\/\1 p3/, 'every link and pod read, the last drawn');
  t.match(repair, `${ERASE}repairing: 1/1 pod p2`, 'the one repair drawn');
  t.match(repair, `${ERASE}fixed pod p2: pod interface eth0 in `, 'the line is cleared before the answer');

  await setup(lab.sim, [['ifconfig', '-j', await jailOf('p2'), 'eth0', 'down']]);
  const piped = await lab.jailnet(['repair']);
  t.match(piped.stdout, /^fixed pod p2: pod interface eth0/);
  t.equal(piped.stderr, '', 'nothing on stderr when it is not a terminal');
  t.notMatch(onTerminal(lab, ['--json', 'repair']), '\x1b[K', 'nothing extra with --json');
});
