// What jexec may start inside a simulated jail. The simulator runs on a machine that
// is not FreeBSD, as root: a path such as /sbin/ifconfig names that machine's own
// program, which would act on its real network. So jexec never starts a program of
// the machine it runs on. FreeBSD base paths of the simulated tools and their bare names
// run the simulated tool; a program from a directory the test names explicitly in
// JAILNET_SIM_EXEC_DIRS (a fixture) runs with only the simulated tools on its PATH;
// anything else fails as jexec does on FreeBSD when the jail has no such file
// (usr.sbin/jexec/jexec.c: `err(1, "execvp: %s", argv[0])` after execvp(3) fails).
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIM_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin');

/** Where FreeBSD's base system installs each simulated tool (hier(7); the tools' Makefiles). */
export const BASE_PATHS: Record<string, string> = {
  ifconfig: '/sbin/ifconfig',
  route: '/sbin/route',
  pfctl: '/sbin/pfctl',
  sysctl: '/sbin/sysctl',
  kldload: '/sbin/kldload',
  kldstat: '/sbin/kldstat',
  jail: '/usr/sbin/jail',
  jexec: '/usr/sbin/jexec',
  jls: '/usr/sbin/jls',
  netstat: '/usr/bin/netstat',
};

export type ExecTarget =
  | { kind: 'simulated'; tool: string }
  | { kind: 'fixture'; file: string }
  | { kind: 'missing'; stderr: string };

/** The directories a test allowed, each absolute and normalised. */
function fixtureDirs(env: NodeJS.ProcessEnv): string[] {
  return (env.JAILNET_SIM_EXEC_DIRS ?? '')
    .split(':')
    .filter((dir) => path.isAbsolute(dir))
    .map((dir) => path.resolve(dir));
}

function simulatedTool(command: string): string | undefined {
  if (!command.includes('/')) return command in BASE_PATHS ? command : undefined;
  const resolved = path.resolve(command);
  const tool = path.basename(resolved);
  if (BASE_PATHS[tool] === resolved) return tool;
  // The simulated host's tool directory stands for /sbin and friends: the driver's tool path points there.
  if (path.dirname(resolved) === SIM_BIN && tool in BASE_PATHS) return tool;
  return undefined;
}

/**
 * A fixture's PATH: the simulated tools, and a directory holding nothing but a link to
 * node (the simulated tools' interpreter), so a bare name never finds this machine's program.
 */
export function fixturePath(stateDir: string): string {
  const nodeDir = path.join(stateDir, 'node-bin');
  mkdirSync(nodeDir, { recursive: true });
  const link = path.join(nodeDir, 'node');
  if (!existsSync(link)) symlinkSync(process.execPath, link);
  return `${SIM_BIN}:${nodeDir}`;
}

/** Decides what `jexec JAIL command …` runs, without starting anything. */
export function resolveJexecCommand(command: string, env: NodeJS.ProcessEnv): ExecTarget {
  const tool = simulatedTool(command);
  if (tool) return { kind: 'simulated', tool };
  if (command.includes('/')) {
    const file = path.resolve(command);
    if (fixtureDirs(env).some((dir) => path.dirname(file) === dir)) {
      return { kind: 'fixture', file };
    }
  }
  return { kind: 'missing', stderr: `jexec: execvp: ${command}: No such file or directory\n` };
}
