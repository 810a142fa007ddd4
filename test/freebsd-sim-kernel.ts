// The simulator's resident kernel (test/freebsd-sim/src/kernel.ts) holds the state in
// memory for the benchmark; it must answer exactly as the file store does, and its own
// trouble must show as the simulator's, never as a silently stale state.
import { unlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { kernelSocket } from './freebsd-sim/src/kernel.js';
import { createSimulator, startKernel, type Simulator } from './freebsd-sim/src/index.js';
import { newSim, tool } from './helpers/sim.js';

const RDR = 'rdr pass on vtnet0 inet proto tcp from any to any port 8080 -> 10.1.0.2 port 80\n';

/** Changes and reads, some refused, one injected failure, through jexec and -j. */
const SCRIPT: Array<[string, string[], string?]> = [
  ['jail', ['-c', 'name=p1', 'path=/', 'vnet', 'persist']],
  ['jail', ['-c', 'name=p1', 'path=/', 'vnet', 'persist']],
  ['ifconfig', ['bridge', 'create']],
  ['ifconfig', ['epair', 'create']],
  ['ifconfig', ['bridge0', 'addm', 'epair0a', 'up']],
  ['ifconfig', ['epair0b', 'vnet', 'p1']],
  ['jexec', ['p1', 'ifconfig', 'epair0b', 'inet', '10.1.0.2/24', 'alias', 'up']],
  ['route', ['-j', 'p1', '-n', 'add', 'default', '10.1.0.1']],
  ['route', ['-j', 'p1', '-n', 'delete', 'default']],
  ['ifconfig', ['bridge0']],
  ['ifconfig', ['-j', 'p1', 'epair0b']],
  ['ifconfig', ['nosuch0', 'up']],
  ['jexec', ['nosuch', 'ifconfig']],
  ['pfctl', ['-a', 'cni-rdr/x', '-f', '-'], RDR],
  ['pfctl', ['-a', 'cni-rdr/x', '-s', 'nat']],
  ['sysctl', ['net.inet.ip.forwarding=1']],
  ['jls', []],
  ['ifconfig', ['epair0a', 'destroy']],
  ['jail', ['-r', 'p1']],
  ['ifconfig', ['-l']],
];

async function runScript(sim: Simulator) {
  const outputs = [];
  for (const [name, args, stdin] of SCRIPT) {
    const { code, stdout, stderr } = await tool(sim, name, args, stdin ?? '');
    outputs.push({ command: [name, ...args].join(' '), code, stdout, stderr });
  }
  return outputs;
}

const failRouteDelete = (sim: Simulator) => sim.mutate((state) => void (state.failOn = ['route -j p1 -n delete']));

t.test('the resident kernel prints, changes and logs what the file store does', async (t) => {
  const base = t.testdir({});
  const file = await createSimulator(path.join(base, 'file'));
  const held = await createSimulator(path.join(base, 'held'));
  await failRouteDelete(file);
  await failRouteDelete(held);
  const kernel = await startKernel(held.dir);
  t.teardown(() => kernel.stop());

  const expected = await runScript(file);
  const got = await runScript(held);
  t.same(got, expected, 'every command: the same stdout, stderr and exit code');
  t.ok(expected.some((o) => o.code !== 0) && expected.some((o) => o.stderr.includes('injected failure')), 'the script has refusals and the injected failure');
  await kernel.flush();
  t.same(held.state(), file.state(), 'the same state, written on flush');
  t.same(held.log(), file.log(), 'the same log');
});

t.test('while a kernel holds the state, nothing writes the file behind it; after stop, the file is current', async (t) => {
  const sim = await newSim(t);
  const kernel = await startKernel(sim.dir);
  const made = await tool(sim, 'ifconfig', ['bridge', 'create']);
  t.equal(made.stdout, 'bridge0\n', made.stderr);
  await t.rejects(sim.mutate(() => undefined), /a resident kernel holds the state/);
  await kernel.stop();
  t.ok(sim.state().ifaces.some((i) => i.name === 'bridge0'), 'the kernel wrote its state when it stopped');
  const next = await tool(sim, 'ifconfig', ['bridge', 'create']);
  t.equal(next.stdout, 'bridge1\n', 'tools use the file again, from where the kernel left it');
});

t.test('a kernel that is gone fails every tool as the simulator, one line, exit 70', async (t) => {
  const sim = await newSim(t);
  const kernel = await startKernel(sim.dir);
  // A hostile or malformed request is answered with an error; the kernel keeps serving.
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = connect(kernelSocket(sim.dir));
    let data = '';
    socket.on('data', (chunk) => (data += String(chunk)));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.write('{"op": "tool", "request": nonsense\n');
  });
  t.match(reply, /"error"/);
  t.equal((await tool(sim, 'ifconfig', ['-l'])).code, 0, 'still serving');

  await kernel.stop();
  // A kernel killed outright leaves its socket: tools must not fall back to an older file.
  writeFileSync(kernelSocket(sim.dir), '');
  t.teardown(() => unlinkSync(kernelSocket(sim.dir)));
  const failed = await tool(sim, 'ifconfig', ['-l']);
  t.equal(failed.code, 70);
  t.match(failed.stderr, /^freebsd-sim: the resident kernel of .* is not answering .*\n$/);
  t.equal(failed.stderr.split('\n').length, 2, 'one line');
});
