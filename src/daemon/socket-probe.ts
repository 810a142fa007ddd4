// Whether a jailnetd answers on a socket: for the daemon that would take its path, and for a
// call that would start one.
import net from 'node:net';

/** Whether something accepts connections on the socket (a live daemon). */
export function socketAnswers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socket);
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', () => resolve(false));
  });
}
