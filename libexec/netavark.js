#!/usr/bin/env node
// jailnet's netavark in a Node process of its own: what podman/netavark runs when jailnetd
// does not serve the call. A teardown is not cut in half by SIGTERM or SIGINT (netavark's
// rule): the handlers keep the process alive until it has finished. Then, with [daemon]
// autostart, jailnetd is started for the calls after this one.
import { runNetavark } from '../dist/netavark/contract.js';

const args = process.argv.slice(2);
if (args.includes('teardown')) for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => undefined);
const chunks = [];
process.exitCode = await runNetavark(args, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  async stdin() {
    for await (const chunk of process.stdin) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  },
  env: process.env,
});
if (args.some((a) => ['setup', 'teardown', 'update', 'create'].includes(a))) {
  await (await import('../dist/daemon/autostart.js')).autostartAfterCall(process.env);
}
