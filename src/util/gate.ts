// Shared and exclusive turns within one process: jailnetd's calls run side by side
// (shared), netmon's repair pass alone (exclusive), so a pass never reads the records
// before a DEL and puts back after it what the DEL took away. An exclusive turn waits
// for the shared ones in progress; shared ones asked for meanwhile wait for it. Each
// call is bounded by its own deadline, so every wait is too.

export class Gate {
  private shares = 0;
  private exclusiveTurn: Promise<void> | undefined;
  private drained: (() => void) | undefined;

  async shared<T>(work: () => Promise<T>): Promise<T> {
    while (this.exclusiveTurn) await this.exclusiveTurn;
    this.shares += 1;
    try {
      return await work();
    } finally {
      this.shares -= 1;
      if (this.shares === 0) this.drained?.();
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.exclusiveTurn) await this.exclusiveTurn;
    let release!: () => void;
    this.exclusiveTurn = new Promise<void>((resolve) => (release = resolve));
    try {
      if (this.shares > 0) await new Promise<void>((resolve) => (this.drained = resolve));
      this.drained = undefined;
      return await work();
    } finally {
      this.exclusiveTurn = undefined;
      release();
    }
  }
}
