// aardvark-dns on the simulated host (dns/aardvark-dns, 1.17.0 in FreeBSD's ports): the
// process jailnet starts, reloads and leaves to exit, with aardvark's own protocol, so that
// jailnet's DNS module is exercised on FreeBSD's paths without a resolver of the machine's.
//
//   --version / -V        clap's line, `aardvark-dns 1.17.0` (src/main.rs: #[clap(version)]).
//   --config DIR -p PORT run
//                         src/commands/run.rs: the parent forks and exits 0 only once the
//                         child serves; the child writes DIR/aardvark.pid (src/server/serve.rs)
//                         and listens on every network file's first-line addresses. An
//                         address no interface of the host holds cannot be bound: the parent
//                         exits 1 (EADDRNOTAVAIL is 49 in FreeBSD's sys/sys/errno.h; the
//                         wording paraphrases aardvark's bind error, jailnet relies only on
//                         the exit status and passes stderr on).
//   SIGHUP                serve.rs: the files are read again; with none left it exits.
//
// The child is a real process (signals and pid checks are real), the simulator's own
// program, never the machine's. It answers no query: answers are tested on Linux with the
// real aardvark. It ends by itself when the simulator's directory goes, or after
// LIFETIME_MS, should nobody stop it.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { withState, type SimAardvark, type SimState } from './state.js';
import { INJECTED_FAILURE, injectedFailure, pausesHere } from './steps.js';
import type { ToolOutput } from './tool.js';

export const AARDVARK_VERSION = '1.17.0';
const PID_FILE = 'aardvark.pid';
const LIFETIME_MS = 3_600_000;
const READY_MS = 10_000;

/** The network files of a directory and the addresses their first lines name. */
function readConfigs(dir: string): { networks: string[]; listen: string[] } {
  let names: string[] = [];
  try {
    names = readdirSync(dir).filter((n) => n !== PID_FILE && !n.startsWith('.'));
  } catch {
    return { networks: [], listen: [] };
  }
  const listen = names.flatMap((n) => (readFileSync(path.join(dir, n), 'utf8').split('\n')[0] ?? '').split(' ')[0]?.split(',').filter(Boolean) ?? []);
  return { networks: names.sort(), listen: [...new Set(listen)].sort() };
}

/** The host's own addresses (its vnet's interfaces): where a server on the host can bind. */
function hostAddresses(state: SimState): Set<string> {
  return new Set(state.ifaces.filter((i) => i.vnet === 'host').flatMap((i) => [...i.inet.map((a) => a.address), ...i.inet6.map((a) => a.address)]));
}

export type Started = { output: ToolOutput; pause: boolean };

/** `run`, under the state's lock: counted as a host command, the child started and waited for. */
async function run(stateDir: string, dir: string, port: number, pausable: boolean, argv: string[]): Promise<Started> {
  return withState(stateDir, async (state) => {
    if (injectedFailure(state, ['aardvark-dns', ...argv])) return { output: { stdout: '', stderr: INJECTED_FAILURE, exitCode: 1 }, pause: false };
    const pause = pausesHere(state, pausable);
    const { networks, listen } = readConfigs(dir);
    const held = hostAddresses(state);
    const unbound = listen.find((a) => !held.has(a));
    if (unbound !== undefined) {
      return { output: { stdout: '', stderr: `Error: failed to bind udp listener on ${unbound}:${port}: Can't assign requested address (os error 49)\n`, exitCode: 1 }, pause };
    }
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', stateDir, dir, String(port)], { detached: true, stdio: 'ignore', env: { PATH: '/nonexistent' } });
    child.unref();
    const pid = child.pid as number;
    (state.aardvarks ??= []).push({ pid, dir, port, listen, networks, reloads: 0 });
    // The parent returns once the child serves: its pid file is written.
    const deadline = Date.now() + READY_MS;
    while (Date.now() < deadline && readPid(dir) !== pid) await sleep(10);
    if (readPid(dir) !== pid) return { output: { stdout: '', stderr: 'Error: the server did not start\n', exitCode: 1 }, pause };
    return { output: { stdout: '', stderr: '', exitCode: 0 }, pause };
  });
}

function readPid(dir: string): number | undefined {
  try {
    return Number(readFileSync(path.join(dir, PID_FILE), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** The tool: `--version`, or `--config DIR -p PORT run`; anything else is a usage error as clap gives it. */
export async function aardvarkTool(stateDir: string, argv: string[], pausable: boolean): Promise<Started> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) return { output: { stdout: `aardvark-dns ${AARDVARK_VERSION}\n`, stderr: '', exitCode: 0 }, pause: false };
  const options = new Map<string, string>();
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (['--config', '-c', '--port', '-p'].includes(word) && argv[i + 1] !== undefined) options.set(word.replace(/^--?/, '')[0] as string, argv[++i] as string);
    else if (command === undefined) command = word;
    else command = '\0';
  }
  const dir = options.get('c');
  const port = Number(options.get('p') ?? '5533');
  if (command !== 'run' || dir === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    return { output: { stdout: '', stderr: 'error: unexpected arguments\n\nUsage: aardvark-dns [OPTIONS] <COMMAND>\n', exitCode: 2 }, pause: false };
  }
  return run(stateDir, dir, port, pausable, argv);
}

/** Its entry in the state updated (reload) or removed (exit). */
async function record(stateDir: string, change: (entry: SimAardvark, state: SimState) => void): Promise<void> {
  await withState(stateDir, (state) => {
    const entry = state.aardvarks?.find((a) => a.pid === process.pid);
    if (entry) change(entry, state);
  });
}

/** The child: pid file, then SIGHUP reloads until no file is left (or SIGTERM, or its lifetime). */
async function serve(stateDir: string, dir: string): Promise<void> {
  const exit = async () => {
    await record(stateDir, (_entry, state) => {
      state.aardvarks = (state.aardvarks ?? []).filter((a) => a.pid !== process.pid);
    }).catch(() => undefined);
    if (readPid(dir) === process.pid) rmSync(path.join(dir, PID_FILE), { force: true });
    process.exit(0);
  };
  process.on('SIGHUP', () => {
    const { networks, listen } = readConfigs(dir);
    if (networks.length === 0) return void exit();
    void record(stateDir, (entry) => {
      entry.networks = networks;
      entry.listen = listen;
      entry.reloads += 1;
    });
  });
  process.on('SIGTERM', () => void exit());
  writeFileSync(path.join(dir, PID_FILE), String(process.pid));
  setTimeout(() => void exit(), LIFETIME_MS);
  // A test whose directory is gone will never stop it.
  setInterval(() => {
    if (!existsSync(stateDir)) process.exit(0);
  }, 2_000);
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'serve') {
  void serve(process.argv[3] as string, process.argv[4] as string);
}
