// Serves one netavark call inside jailnetd (libexec/podman/netavark forwards setup, teardown,
// update and create): the netavark contract's own module runs here with the caller's
// arguments, variables and stdin, exactly as in the executable's own process. The host side
// of a setup is the caller's network namespace: a caller in another one than the daemon's (a
// test's private namespace, podman in a namespace of its own) is sent back to run itself.
import { readlinkSync } from 'node:fs';
import { contextMismatch } from './cni-service.js';
import type { NetavarkCall } from './protocol.js';

export type NetavarkServed = { code: number; stdout: string } | { sentBack: string };

/** This process's network namespace (Linux); undefined where there is no /proc to tell (FreeBSD). */
function ownNetns(): string | undefined {
  try {
    return readlinkSync('/proc/self/ns/net');
  } catch {
    return undefined;
  }
}

export async function serveNetavarkCall(call: NetavarkCall, daemonEnv: NodeJS.ProcessEnv): Promise<NetavarkServed> {
  const differs = contextMismatch(call.env, daemonEnv);
  if (differs) return { sentBack: `${differs} differs from the daemon's` };
  const own = ownNetns();
  if (own !== undefined && call.env.JAILNET_NETNS !== own) return { sentBack: "the caller's network namespace is not the daemon's" };
  const { runNetavark } = await import('../netavark/contract.js');
  let stdout = '';
  const { JAILNET_NETNS: _netns, ...variables } = call.env;
  // netavark's own variables are the caller's: absent in the call means absent here.
  const { NETAVARK_FW: _fw, NETAVARK_DNS_PORT: _port, ...daemon } = daemonEnv;
  const code = await runNetavark(call.args, {
    stdout: (text) => void (stdout += text),
    // Logs only (silent at the default level): the daemon's log is where they belong.
    stderr: (text) => process.stderr.write(text),
    stdin: async () => call.stdin.toString('utf8'),
    env: { ...daemon, ...variables },
  });
  return { code, stdout };
}
