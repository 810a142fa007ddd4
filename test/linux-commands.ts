// The Linux driver's argv for its child-jail emulation, as data: the container invariant
// (no CAP_NET_ADMIN) is in the argv every entry into a container runs with.
import t from 'tap';
import { holder, inNetns } from '../src/hosts/linux/commands.js';

const which = (tool: string) => `/usr/bin/${tool}`;

t.test('a container is entered with the network capabilities dropped, in its root', async (t) => {
  t.same(holder.enter(42, '/jails/c1', ['/bin/sh', '-c', 'ip link'], which), [
    'nsenter', '--target=42', '--net', '--uts', '--pid', '--',
    '/usr/bin/setpriv', '--bounding-set=-net_admin,-sys_admin,-sys_module,-sys_rawio', '--',
    '/usr/bin/chroot', '/jails/c1',
    '/bin/sh', '-c', 'ip link',
  ]);
  t.notOk(holder.enter(42, '/', ['true'], which).includes('/usr/bin/chroot'), 'a container rooted at / needs no chroot');
});

t.test('a holder starts in the pod netns with pid and uts namespaces of its own', async (t) => {
  t.same(holder.start('/run/netns/pod', which), ['nsenter', '--net=/run/netns/pod', '--', '/usr/bin/unshare', '--pid', '--uts', '--fork', '--kill-child', '--', '/usr/bin/sleep', 'infinity']);
  t.same(holder.setHostname(7, 'web', which), ['nsenter', '--target=7', '--uts', '--', '/usr/bin/hostname', 'web']);
  t.same(holder.kill(99), ['kill', '-KILL', '99']);
  t.same(inNetns('/run/netns/pod', ['/usr/sbin/ip', 'link']), ['nsenter', '--net=/run/netns/pod', '--', '/usr/sbin/ip', 'link']);
});
