// Runs jailnet's executables as a runtime would: environment and stdin in, exit code
// and the bytes of stdout/stderr out.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PLUGIN_DIR = path.join(ROOT, 'libexec', 'cni');
export const JAILNET = path.join(ROOT, 'bin', 'jailnet.js');
export const REFERENCE_PLUGIN_DIR = '/usr/lib/cni';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

// A runtime starts plugins without tap's loader hooks; the test machine's CA bundle
// variable would make every Node start ~140 ms slower.
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(NODE_OPTIONS|NODE_EXTRA_CA_CERTS|TAP|_TAPJS)/.test(key)),
);

/** `env -i` assignments for a child that gets this environment as a runtime would give it (undefined removes a variable). */
export function envAssignments(env: Record<string, string | undefined>): string[] {
  return Object.entries({ ...baseEnv, ...env })
    .filter(([key, value]) => value !== undefined && !/^(NODE_OPTIONS|_TAPJS)/.test(key))
    .map(([key, value]) => `${key}=${value}`);
}

export interface RunOptions {
  /** The command leads a process group of its own, which a test may kill as a whole. */
  detached?: boolean;
  /** Called once the process exists (its pid is the process group's id when detached). */
  onSpawn?: (pid: number) => void;
}

export function run(file: string, args: string[], env: Record<string, string | undefined>, stdin = '', options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    // tap's processinfo re-injects its loader hooks into any environment we pass, so the
    // child gets exactly this environment through env -i, as a runtime would give it.
    const assignments = envAssignments(env);
    // detached: the command leads a process group of its own (env execs it, same pid).
    const child = spawn('/usr/bin/env', ['-i', ...assignments, file, ...args], { detached: options.detached ?? false });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, stdout, stderr, json });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

export interface CniCall {
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
}

/** Calls a plugin with a clean CNI environment, as `env -i` would. */
export function callPlugin(file: string, call: CniCall, config: unknown): Promise<Run> {
  const env: Record<string, string | undefined> = {
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifname,
    CNI_ARGS: call.args,
    CNI_PATH: call.path,
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  const stdin = typeof config === 'string' ? config : JSON.stringify(config);
  return run(file, [], { ...scrubCni(), ...env }, stdin);
}

function scrubCni(): Record<string, undefined> {
  const out: Record<string, undefined> = {};
  for (const key of Object.keys(process.env)) if (key.startsWith('CNI_')) out[key] = undefined;
  return out;
}

export function jailnet(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return run(process.execPath, [JAILNET, ...args], env);
}
