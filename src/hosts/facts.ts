// What a process has seen a host hold that only an administrator undoes: IP forwarding
// once jailnet found or turned it on, pf's filter_local once it reads 1. A plugin process
// keeps them for its one call; jailnetd keeps them for its life, as part of its view of
// the host, so a call does not read again what an earlier call established (issue 12).
// Only host-wide facts belong here: a vnet jail made again under the same name starts
// with its own defaults. A fact is recorded only once it holds, never from a plan.

/** The facts of each host this process drives, by the host's identity (driver and tool path). */
const byHost = new Map<string, Set<string>>();

export interface SettledFacts {
  has(fact: string): boolean;
  add(fact: string): void;
}

/** The facts of the host a door reaches; a door that only plans records none (nothing it plans has happened). */
export function settledFacts(driver: string, door: { toolPath: string; planning: boolean }): SettledFacts {
  const key = `${driver}\0${door.toolPath}`;
  let facts = byHost.get(key);
  if (!facts) byHost.set(key, (facts = new Set()));
  const known = facts;
  return { has: (fact) => known.has(fact), add: (fact) => void (door.planning || known.add(fact)) };
}

/** A sysctl set to a value, as a fact's name. */
export const sysctlFact = (name: string, value: string): string => `sysctl ${name}=${value}`;

interface SysctlHost {
  readonly facts: SettledFacts;
  sysctlGet(name: string): Promise<string>;
  sysctlSet(name: string, value: string): Promise<void>;
}

/** A host-wide sysctl at 1: read, set when it is not, and not read again by this process once it holds. */
export async function enableSysctl(host: SysctlHost, name: string): Promise<void> {
  const fact = sysctlFact(name, '1');
  if (host.facts.has(fact)) return;
  if ((await host.sysctlGet(name)) !== '1') await host.sysctlSet(name, '1');
  host.facts.add(fact);
}
