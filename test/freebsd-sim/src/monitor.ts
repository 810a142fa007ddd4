// route(8) `monitor` (`route [-j jail] -n monitor`): a tool that keeps running and prints
// one line per change of its vnet's interfaces, addresses and static routes. Lines follow
// FreeBSD 14's netlink printer (sbin/route/route_netlink.c, as the reference notes
// running-pods.md §5 and freebsd-mechanics.md §3.2 give them), in the form without the
// `PID n` field that some builds print: both occur, and jailnet accepts both. The
// simulator polls its own state (written whole, by rename: readable without the lock)
// and prints the differences. Bounded: it exits when its jail goes (jail -r kills what
// runs in a jail), when its parent is gone, or after MONITOR_LIMIT_MS.
import { setTimeout as sleep } from 'node:timers/promises';
import { ifacesIn } from './model.js';
import { readState, type SimState } from './state.js';

const POLL_MS = 100;
/** A monitor nobody stopped ends on its own: a test never leaves one behind for long. */
const MONITOR_LIMIT_MS = Number(process.env.JAILNET_SIM_MONITOR_MS ?? 600_000);

/** What the monitor compares between two polls: each item's line, by its identity. */
type Snapshot = Map<string, string>;

function snapshot(state: SimState, vnetId: string): Snapshot | undefined {
  if (!state.vnets.some((v) => v.id === vnetId)) return undefined;
  const items: Snapshot = new Map();
  for (const i of ifacesIn(state, vnetId)) {
    const state_ = i.up ? 'UP' : 'DOWN';
    items.set(`iface ${i.name}`, `iface iface#${i.ifindex} ${i.name} admin ${state_} oper ${state_} mtu ${i.mtu}`);
    for (const a of [...i.inet, ...i.inet6]) items.set(`addr ${a.address} ${i.name}`, `addr ${a.address}/${a.prefix} iface ${i.name}`);
  }
  for (const r of state.vnets.find((v) => v.id === vnetId)!.routes) {
    const destination = r.destination === 'default' ? (r.family === 6 ? '::/0' : '0.0.0.0/0') : r.destination;
    items.set(`route ${destination}`, `route ${destination} gw ${r.gateway} iface ${r.netif} table inet${r.family === 6 ? '6' : ''}.0`);
  }
  return items;
}

function clock(): string {
  const now = new Date();
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(now.getHours())}:${two(now.getMinutes())}:${two(now.getSeconds())}.${String(now.getMilliseconds()).padStart(3, '0')}`;
}

/** The lines between two snapshots: new or changed items as add/repl, gone ones as delete. */
export function monitorLines(before: Snapshot, after: Snapshot): string[] {
  const lines: string[] = [];
  for (const [key, line] of after) if (before.get(key) !== line) lines.push(`add/repl ${line}`);
  for (const [key, line] of before) if (!after.has(key)) lines.push(`delete ${line}`);
  return lines;
}

/** Runs until its vnet, its parent or its time is gone; prints each change as it sees it. */
export async function runMonitor(dir: string, vnetId: string): Promise<void> {
  const started = Date.now();
  const parent = process.ppid;
  let last = snapshot(readState(dir), vnetId);
  while (last && Date.now() - started < MONITOR_LIMIT_MS && process.ppid === parent) {
    await sleep(POLL_MS);
    const now = snapshot(readState(dir), vnetId);
    const lines = now ? monitorLines(last, now) : [];
    if (lines.length > 0) process.stdout.write(lines.map((line) => `${clock()} ${line}\n`).join(''));
    last = now;
  }
  // Its jail went: jail -r kills the processes attached to it.
  if (!last) process.kill(process.pid, 'SIGKILL');
}
