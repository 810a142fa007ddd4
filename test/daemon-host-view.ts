// What jailnetd keeps of the host between calls, seen in the simulator's command log:
// podman's chain for a second container, with a published port, through the shims with
// the daemon up, runs no read of what an earlier call established (forwarding on, pf's
// filter_local set); with the daemon down each plugin process reads them again.
import path from 'node:path';
import t from 'tap';
import { podHost, podmanDefaultNetwork } from './helpers/podnet.js';
import { socketDir, startDaemonProcess } from './helpers/daemon.js';
import { tool } from './helpers/sim.js';

t.setTimeout(300_000);

const PUBLISH = (port: number) => ['--runtime-config', JSON.stringify({ portMappings: [{ hostPort: port, containerPort: 80, protocol: 'tcp' }] })];
const id = (name: string) => `${name}${'e'.repeat(60)}`;

t.test("a second container's ADD and DEL through jailnetd, and without it", async (t) => {
  const socket = path.join(await socketDir(t), 'd.sock');
  const h = await podHost(t, { env: { JAILNET_SOCKET: socket } });
  for (const jail of ['up0', 'up1', 'down0', 'down1']) await h.jail(jail);
  await tool(h.sim, 'sysctl', ['net.pf.filter_local=1']);
  const list = await h.writeList('podman', podmanDefaultNetwork(h.leaseDir));
  const daemon = await startDaemonProcess(t, h.env, socket);

  const commandsOf = async (run: () => Promise<{ code: number; stderr: string }>) => {
    const start = h.sim.log().length;
    const result = await run();
    t.equal(result.code, 0, result.stderr);
    return h.sim.log().slice(start).map((e) => e.argv.join(' '));
  };
  const ports: Record<string, number> = { up0: 8080, up1: 8081, down0: 8090, down1: 8091 };
  const add = (name: string) => h.add(list, id(name), name, PUBLISH(ports[name] as number));
  const del = (name: string) => h.del(list, id(name), name, PUBLISH(ports[name] as number));
  const secondAdd = async (prefix: string) => {
    await commandsOf(() => add(`${prefix}0`));
    return commandsOf(() => add(`${prefix}1`));
  };

  const up = await secondAdd('up');
  t.same(up.filter((c) => c.startsWith('sysctl')), [], 'daemon up: forwarding and filter_local are not read again');
  t.ok(up.length <= 12, `daemon up: ${up.length} host commands (at most 12)`);
  const upDel = await commandsOf(() => del('up1'));
  t.ok(upDel.length <= 3, `daemon up: DEL ${upDel.length} host commands (at most 3)`);

  await daemon.kill();
  const down = await secondAdd('down');
  t.same(down.filter((c) => c.startsWith('sysctl')), ['sysctl -n net.inet.ip.forwarding', 'sysctl -n net.pf.filter_local'], 'daemon down: each plugin process reads them');
  t.equal(down.length, up.length + 2, 'and that is the whole difference');

  // What a daemon holds lives as long as it does: a new one reads the host again.
  const again = await startDaemonProcess(t, h.env, socket);
  t.equal((await del('down1')).code, 0);
  const fresh = await commandsOf(() => add('down1'));
  t.same(fresh.filter((c) => c.startsWith('sysctl')), ['sysctl -n net.inet.ip.forwarding', 'sysctl -n net.pf.filter_local'], 'a new daemon reads them once');
  await again.kill();
  for (const name of ['up0', 'down0', 'down1']) t.equal((await del(name)).code, 0);
});
