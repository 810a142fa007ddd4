// Serves one runtime API call inside jailnetd: kata-network (`<sub> <id>`, its JSON input)
// and kata-ipvs (`<id>`, the one request string kata's CLI sends its agent). Both go to the
// runtime API's own module (src/runtime-net/api.ts) on a pod context built from the
// daemon's environment, and are answered as the CLI would: stdout, stderr and exit code.
// Calls on one pod are ordered by the pod's lock, as between separate CLI processes.
import type { PodContext } from '../pods/pods.js';
import { describeError, stderrLines } from '../util/describe-error.js';
import { contextMismatch } from './cni-service.js';
import type { IpvsCall, KataCall } from './protocol.js';

export type KataServed = { code: number; stdout: string; stderr: string } | { sentBack: string };

const failed = (stdout: string, error: unknown): KataServed => {
  const report = describeError(error);
  return { code: report.exitCode, stdout, stderr: stderrLines(report) };
};

export async function serveRuntimeCall(call: KataCall | IpvsCall, daemonEnv: NodeJS.ProcessEnv): Promise<KataServed> {
  const differs = contextMismatch(call.env, daemonEnv);
  if (differs) return { sentBack: `${differs} differs from the daemon's` };
  // Loaded on the first call: serving CNI calls needs none of it.
  const [{ kataIpvs, kataNetwork, decodeIpvsRequest }, { podContextFromEnv }] = await Promise.all([import('../runtime-net/api.js'), import('../pods/open.js')]);
  const pods = (): Promise<PodContext> => podContextFromEnv(daemonEnv);
  const input = async () => call.stdin.toString('utf8');
  if (call.kind === 'kata-network') {
    const outcome = await kataNetwork(pods, call.sub, call.id, input);
    return outcome.error === undefined ? { code: 0, stdout: outcome.stdout, stderr: '' } : failed(outcome.stdout, outcome.error);
  }
  try {
    return { code: 0, stdout: await kataIpvs(await pods(), call.id, decodeIpvsRequest(await input())), stderr: '' };
  } catch (error) {
    return failed('', error);
  }
}
