// Picks the host driver: --host or JAILNET_HOST, else the OS jailnet runs on.
import { hostKind, type HostKind } from '../platform.js';
import { createExecDoor, type ExecDoor, type ExecOptions } from './exec.js';
import { FreeBSDHost } from './freebsd/driver.js';
import type { Host } from './host.js';
import { LinuxHost } from './linux/driver.js';

export class HostSelectionError extends Error {}

export function chosenHostKind(requested: string | undefined, env: NodeJS.ProcessEnv = process.env): HostKind {
  const choice = requested ?? env.JAILNET_HOST ?? hostKind();
  if (choice !== 'freebsd' && choice !== 'linux') {
    throw new HostSelectionError(`unknown host driver "${choice}" (choose freebsd or linux)`);
  }
  return choice;
}

export function createHost(kind: HostKind, door: ExecDoor = createExecDoor()): Host {
  return kind === 'freebsd' ? new FreeBSDHost(door) : new LinuxHost(door);
}

export function hostFromOptions(requested: string | undefined, execOptions: ExecOptions = {}): { host: Host; door: ExecDoor } {
  const door = createExecDoor(execOptions);
  return { host: createHost(chosenHostKind(requested, execOptions.env), door), door };
}
