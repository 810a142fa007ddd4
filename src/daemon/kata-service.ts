// Serves one runtime API call (`jailnet kata-network <sub> <id>`) inside jailnetd: the
// same command the CLI runs, in-process, its input from the request and its stdout,
// stderr and exit code sent back. Calls on one pod are ordered by the pod's lock, as
// between separate CLI processes.
import { contextMismatch } from './cni-service.js';
import type { KataCall } from './protocol.js';

export type KataServed = { code: number; stdout: string; stderr: string } | { sentBack: string };

export async function serveKataCall(call: KataCall, daemonEnv: NodeJS.ProcessEnv): Promise<KataServed> {
  const differs = contextMismatch(call.env, daemonEnv);
  if (differs) return { sentBack: `${differs} differs from the daemon's` };
  // Loaded on the first call: the CLI's command tree is not needed to serve CNI calls.
  const [{ main }, { takesInput }] = await Promise.all([import('../cli/main.js'), import('../cli/kata-network-command.js')]);
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: (text: string) => void (stdout += text),
    stderr: (text: string) => void (stderr += text),
    stdin: async () => call.stdin.toString('utf8'),
  };
  const argv = ['node', 'jailnet', 'kata-network', call.sub, call.id, ...(takesInput(call.sub) ? ['-'] : [])];
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
