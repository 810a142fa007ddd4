// Picks the host driver: --host or JAILNET_HOST, else the OS jailnet runs on.
import { hostKind, type HostKind } from '../platform.js';
import { createExecDoor, type ExecDoor, type ExecOptions } from './exec.js';
import { FreeBSDHost } from './freebsd/driver.js';
import type { Host } from './host.js';

export class HostSelectionError extends Error {}

export function chosenHostKind(requested: string | undefined, env: NodeJS.ProcessEnv = process.env): HostKind {
  const choice = requested ?? env.JAILNET_HOST ?? hostKind();
  if (choice !== 'freebsd' && choice !== 'linux') {
    throw new HostSelectionError(`unknown host driver "${choice}" (choose freebsd or linux)`);
  }
  return choice;
}

export function createHost(kind: HostKind, door: ExecDoor = createExecDoor()): Host {
  if (kind === 'freebsd') return new FreeBSDHost(door);
  // Honest refusal until the Linux netns driver lands (its own issue).
  throw new HostSelectionError('the linux host driver is not available yet; use --host freebsd (for example against the simulator)');
}

export function hostFromOptions(requested: string | undefined, execOptions: ExecOptions = {}): { host: Host; door: ExecDoor } {
  const door = createExecDoor(execOptions);
  return { host: createHost(chosenHostKind(requested, execOptions.env), door), door };
}
