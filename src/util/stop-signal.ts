// What ends a foreground service (jailnetd, netmon): the first SIGTERM or SIGINT.

/**
 * Resolves with the first SIGTERM or SIGINT. The handlers stay for the life of the
 * process: execa's signal-exit, loaded while a host command runs, re-sends a signal to
 * the process when its own listener is the only one left, which would kill a service in
 * the middle of its orderly stop (it happened to jailnetd with netmon's commands running).
 * Later signals are ignored; a service that must go at once gets SIGKILL.
 */
export function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => resolve(signal);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}
