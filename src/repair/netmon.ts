// netmon: jailnet's reconcile loop. Not a handler per event (the lesson of kata-netmon,
// runtime-network-api.md §1.10, which exec'd a CLI per event, dropped address changes,
// died on its first error and leaked processes): every pass reads the records and the
// host and repairs the drift (repair.ts), so a missed, repeated or reordered event costs
// nothing. The packet filter is checked every tick, since a pf reload sends no event;
// links and the pods' vnets on a monitor's event, and every FULL_MS anyway. One
// long-lived monitor per vnet (and the host) only says when to look; one that dies is
// restarted with back-off. Errors are logged, never fatal; stop() leaves no process.
import type { Watch } from '../hosts/exec.js';
import { ALL_PARTS, audit, podsGone } from './audit.js';
import type { DesiredState } from './desired.js';
import { applyRepairs, loadDesired, type RepairScope } from './repair.js';

export interface NetmonOptions {
  scope: RepairScope;
  /** Runs a pass alone, with no plugin call in progress (jailnetd's gate); absent: as it comes. */
  exclusive?: <T>(work: () => Promise<T>) => Promise<T>;
  log(level: 'info' | 'warn', message: string): void;
  /** How often the packet filter is checked. */
  tickMs?: number;
}

const TICK_MS = 500;
/** A whole pass at least this often, events or not. */
const FULL_MS = 30_000;
/** An event's pass starts this soon: the changes of one command arrive as several lines. */
const EVENT_DELAY_MS = 50;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;

interface MonitorSlot {
  watch?: Watch;
  backoffMs: number;
  restart?: NodeJS.Timeout;
  stopped: boolean;
}

/** The records as one string, Maps included: equal strings, unchanged records. */
const fingerprint = (desired: DesiredState) => JSON.stringify(desired, (_key, value: unknown) => (value instanceof Map ? [...value] : value));

export class Netmon {
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;
  private stopping = false;
  private fullWanted = true;
  private lastFull = 0;
  private filterPassMs = 0;
  /** The pods whose sandbox the last whole pass found gone (audit.ts podsGone). */
  private gone: ReadonlySet<string> = new Set();
  private readonly monitors = new Map<string, MonitorSlot>();

  constructor(private readonly options: NetmonOptions) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.pass;
    await Promise.all([...this.monitors.keys()].map((key) => this.unwatch(key)));
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    const full = this.fullWanted || Date.now() - this.lastFull >= FULL_MS;
    this.fullWanted = false;
    const started = Date.now();
    this.pass = this.runPass(full).catch((error: unknown) => this.options.log('warn', `netmon: ${(error as Error).message}`));
    await this.pass;
    this.pass = undefined;
    if (!full) this.filterPassMs = Date.now() - started;
    // An event during the pass asks for another at once. Otherwise the next tick comes
    // after TICK_MS, or where reading the filter takes longer than that (a host with many
    // pods), after twice that read: the ticks take a third of a core at most.
    const tick = this.options.tickMs ?? TICK_MS;
    this.schedule(this.fullWanted ? EVENT_DELAY_MS : this.filterPassMs > tick ? 2 * this.filterPassMs : tick);
  }

  private async runPass(full: boolean): Promise<void> {
    const { scope } = this.options;
    const exclusive = this.options.exclusive ?? ((work) => work());
    await exclusive(async () => {
      const desired = await loadDesired(scope);
      if (full) this.watchAll(desired);
      if (full) this.gone = await podsGone(scope.host, desired);
      const drift = await audit(scope.host, desired, { parts: full ? ALL_PARTS : ['filter'], gone: this.gone });
      if (full) this.lastFull = Date.now();
      if (drift.length === 0) return;
      // Without the gate a plugin may have changed the records meanwhile (a DEL between the
      // read and the repair): the next pass looks again rather than put back what went.
      if (!this.options.exclusive && fingerprint(await loadDesired(scope)) !== fingerprint(desired)) return;
      const outcome = await applyRepairs(scope, drift);
      for (const fixed of outcome.fixed) this.options.log('info', `netmon: fixed ${fixed}`);
      for (const error of outcome.errors) this.options.log('warn', `netmon: ${error}`);
    });
  }

  /** A monitor's line: something changed; the next pass reads everything. */
  private onEvent(): void {
    this.fullWanted = true;
    if (this.timer !== undefined && this.pass === undefined) this.schedule(EVENT_DELAY_MS);
  }

  /** One monitor for the host and for each pod vnet the records name; the others stopped. */
  private watchAll(desired: DesiredState): void {
    const wanted = new Set(['', ...desired.pods.map((p) => p.vnet)]);
    for (const key of wanted) if (!this.monitors.has(key)) this.watch(key);
    for (const key of this.monitors.keys()) if (!wanted.has(key)) void this.unwatch(key);
  }

  private watch(key: string): void {
    const slot: MonitorSlot = { backoffMs: FIRST_BACKOFF_MS, stopped: false };
    this.monitors.set(key, slot);
    const where = key === '' ? 'the host' : key;
    const begin = () => {
      if (slot.stopped || this.stopping) return;
      try {
        slot.watch = this.options.scope.host.watchNetwork(key === '' ? undefined : key, () => {
          slot.backoffMs = FIRST_BACKOFF_MS;
          this.onEvent();
        });
      } catch (error) {
        this.options.log('warn', `netmon: monitor of ${where}: ${(error as Error).message}`);
        slot.restart = setTimeout(begin, slot.backoffMs);
        return;
      }
      void slot.watch.exited.then((code) => {
        if (slot.stopped || this.stopping) return;
        this.options.log('warn', `netmon: monitor of ${where} exited (${code}); again in ${slot.backoffMs} ms`);
        slot.restart = setTimeout(begin, slot.backoffMs);
        slot.backoffMs = Math.min(slot.backoffMs * 2, MAX_BACKOFF_MS);
        // Its vnet may be gone: the next pass decides whether it is still wanted.
        this.onEvent();
      });
    };
    begin();
  }

  private async unwatch(key: string): Promise<void> {
    const slot = this.monitors.get(key);
    if (!slot) return;
    slot.stopped = true;
    clearTimeout(slot.restart);
    this.monitors.delete(key);
    await slot.watch?.stop();
  }
}
