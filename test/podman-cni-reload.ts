// Real podman 4.3.1 with its CNI backend and jailnet's plugins, inside a private mount and
// network namespace (fixtures/private-host.mjs), where the packet filter may be flushed without
// touching any other test: a running container with a published port joins a second network
// and keeps answering (issue 33 item 9: its default route is already there, the first one
// wins; its port is published on both networks); after `nft flush table inet jailnet`,
// `podman network reload` (podman's documented remedy: a DEL and an ADD) makes it answer again,
// with the plugins run as processes and through jailnetd (item 10). Nothing is left at the end.
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { FETCH, missingPrerequisite } from './helpers/linux.js';
import { podmanCniLab, privateDaemon } from './helpers/podman-cni.js';
import { privateHost } from './fixtures/private-host.mjs';

t.setTimeout(600_000);

const BODY = 'hello through the cni backend\n';
const PORT = 18190;

const missing = missingPrerequisite(['podman', 'runc', 'unshare']);
if (missing) {
  t.fail(`cannot run the podman CNI reload test: ${missing}`);
} else {
  const lab = podmanCniLab('podman-cni-reload', BODY, ['sh', 'httpd', 'ip', 'sleep']);
  const host = await privateHost(lab.conf);
  t.teardown(() => host.stop());
  const env = { PATH: process.env.PATH };
  const podman = (...args: string[]) => host.run(['podman', ...args], env);
  const inHost = (...argv: string[]) => host.run(argv, env);
  const fetchOnce = (url: string) => host.run([process.execPath, FETCH, url], env, 15_000);
  /** The published port through each gateway (the DNAT takes any of the host's addresses). */
  const answers = async (gateways: string[]) => {
    const bodies: string[] = [];
    for (const gateway of gateways) {
      let answer = fetchOnce(`http://${gateway}:${PORT}/`);
      for (let i = 0; i < 20 && answer.code !== 0; i++) {
        await sleep(100);
        answer = fetchOnce(`http://${gateway}:${PORT}/`);
      }
      bodies.push(answer.code === 0 ? answer.stdout : `no answer: ${answer.stderr.trim()}`);
    }
    return bodies;
  };
  const baseRules = () => (inHost('nft', 'list', 'chain', 'inet', 'jailnet', 'prerouting').stdout.match(/vmap @/g) ?? []).length;

  /** A flush of jailnet's table, proven to cut the port, then podman's remedy. */
  const flushAndReload = async (t: Test) => {
    t.equal(inHost('nft', 'flush', 'table', 'inet', 'jailnet').code, 0, 'nft flush table inet jailnet');
    t.equal(fetchOnce(`http://10.248.1.1:${PORT}/`).code === 0, false, 'the flush cut the published port');
    const reload = podman('network', 'reload', 'web');
    t.equal(reload.code, 0, reload.stderr);
    t.same(await answers(['10.248.1.1']), [BODY], 'the port answers again after podman network reload');
    t.equal(baseRules(), 3, "jailnet's base rules are back");
    // A later container's ADD must not publish into a table without its base rules either.
    const second = podman('run', '-d', '--name', 'web2', '--network', 'jnca', '-p', `${PORT + 1}:80`, '--rootfs', lab.rootfs, '/bin/httpd', '-f', '-p', '80', '-h', '/www');
    t.equal(second.code, 0, second.stderr);
    const later = fetchOnce(`http://10.248.1.1:${PORT + 1}/`);
    t.equal(later.stdout, BODY, `a later container's port answers: ${later.stderr}`);
    t.equal(podman('rm', '-f', '-t', '0', 'web2').code, 0, 'rm web2');
  };

  t.test('network create; run -d -p answers', async (t) => {
    for (const [name, subnet] of [['jnca', '10.248.1.0/24'], ['jncb', '10.248.2.0/24']]) {
      const created = podman('network', 'create', '--disable-dns', '--subnet', subnet as string, name as string);
      t.equal(created.code, 0, created.stderr);
    }
    const run = podman('run', '-d', '--name', 'web', '--network', 'jnca', '-p', `${PORT}:80`, '--rootfs', lab.rootfs, '/bin/httpd', '-f', '-p', '80', '-h', '/www');
    t.equal(run.code, 0, run.stderr);
    t.same(await answers(['10.248.1.1']), [BODY]);
  });

  t.test('network connect of a running container with a published port (item 9)', async (t) => {
    const connect = podman('network', 'connect', 'jncb', 'web');
    t.equal(connect.code, 0, connect.stderr);
    const addresses = podman('exec', 'web', 'ip', '-o', '-4', 'addr').stdout;
    t.match(addresses, /eth1.*10\.248\.2\.\d+/, 'the second network joined');
    const routes = podman('exec', 'web', 'ip', 'route').stdout;
    t.match(routes, /^default via 10\.248\.1\.1 /m, "the first network's default route stays");
    t.equal(routes.match(/^default/gm)?.length, 1, 'one default route');
    t.same(await answers(['10.248.1.1', '10.248.2.1']), [BODY, BODY], 'the published port answers through both gateways');
    const second = /10\.248\.2\.(\d+)/.exec(addresses)?.[0];
    t.equal(fetchOnce(`http://${second}:80/`).stdout, BODY, 'and the container at its second address');
    // The first network leaves: its port goes to the second (as the reference's rules of the second network would serve it).
    t.equal(podman('network', 'disconnect', 'jnca', 'web').code, 0, 'network disconnect of the first network');
    t.same(await answers(['10.248.2.1']), [BODY], 'the published port answers through the second network alone');
    t.equal(podman('network', 'connect', 'jnca', 'web').code, 0, 'the first network joined again');
    const disconnect = podman('network', 'disconnect', 'jncb', 'web');
    t.equal(disconnect.code, 0, disconnect.stderr);
    t.notMatch(podman('exec', 'web', 'ip', '-o', '-4', 'addr').stdout, /10\.248\.2\./, 'the second network left');
    t.same(await answers(['10.248.1.1']), [BODY], 'the port answers through the first network again');
  });

  t.test('nft flush, then podman network reload: plugins as processes (item 10)', flushAndReload);

  t.test('nft flush, then podman network reload: through jailnetd (item 10)', async (t) => {
    const daemon = await privateDaemon(t, host);
    t.ok(daemon.listening, 'jailnetd listens in the private host');
    // Two reloads through the daemon first: it then remembers the table as it left it.
    t.equal(podman('network', 'reload', 'web').code, 0, 'a reload jailnetd serves');
    await flushAndReload(t);
    await sleep(200);
    t.match(daemon.log(), /"plugin":"portmap".*"msg":"served"|"msg":"served".*"plugin":"portmap"/, `jailnetd served the plugins: ${daemon.log().slice(0, 1500)}`);
    daemon.stop();
  });

  t.test('rm, network rm: nothing left', async (t) => {
    t.equal(podman('rm', '-f', '-t', '0', 'web').code, 0, 'rm web');
    for (const name of ['jnca', 'jncb']) t.equal(podman('network', 'rm', name).code, 0, `network rm ${name}`);
    const links = (JSON.parse(inHost('ip', '-j', 'link', 'show').stdout) as Array<{ ifname: string }>).map((l) => l.ifname);
    t.same(links, ['lo'], 'no bridge or veth left');
    t.equal(inHost('ls', '-A', '/var/lib/jailnet/attachments/bridge').stdout.trim(), '', 'no jailnet record left');
  });
}
