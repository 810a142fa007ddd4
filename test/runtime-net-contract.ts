// The kata-network contract as data (runtime-network-api.md §1.2–1.4): Go-style decoding,
// every validation rule with its failing case, and the bytes each answer prints.
import t from 'tap';
import {
  checkAddRoute,
  checkDelRoute,
  checkInterfaceUpdate,
  checkNewInterface,
  decodeInterface,
  decodeRoutes,
  decodeRouteText,
  encode,
  interfaceJson,
  routeJson,
  RuntimeNetError,
  type Interface,
} from '../src/runtime-net/contract.js';

/** The openEuler guide's add-iface sample, without its vhost-user socket and queues (a VM's). */
const SAMPLE = '{"device":"tap-test","name":"eth-test","IPAddresses":[{"address":"172.16.0.3","mask":"16"}],"hwAddr":"02:42:20:6f:a3:69","mtu":1500}';

const iface = (over: Record<string, unknown> = {}): Interface => ({ ...decodeInterface(SAMPLE), linkType: 'tap', ...over }) as Interface;

t.test("decoding follows Go's encoding/json: keys match case-insensitively, unknown keys are ignored", async (t) => {
  const decoded = decodeInterface('{"DEVICE":"tap1","Name":"eth1","ipaddresses":[{"Address":"10.0.0.2","MASK":"24"}],"MTU":1400,"HWADDR":"02:00:00:00:00:01","extra":true}');
  t.match(decoded, { device: 'tap1', name: 'eth1', mtu: 1400, hwAddr: '02:00:00:00:00:01', ipAddresses: [{ family: 0, address: '10.0.0.2', mask: '24' }], linkType: '', queues: 0 });
  t.same(decodeInterface('{"name":"x","mtu":1500,"name2":1}').name, 'x', 'an exact key wins');
  t.throws(() => decodeInterface('{"mtu":"1500"}'), /cannot unmarshal string into Go struct field vcTypes.Interface.mtu of type uint/);
  t.throws(() => decodeInterface('{"mtu":-1}'), /cannot unmarshal number/);
  t.throws(() => decodeInterface('[1]'), /cannot unmarshal array into Go value of type vcTypes.Interface/);
  t.throws(() => decodeInterface('{"name":'), /invalid JSON input/);
  t.same(decodeInterface('{"IPAddresses":[null]}').ipAddresses, [null], 'a null address survives decoding, for the validation to refuse');
  t.same(decodeRoutes('null'), []);
  t.match(decodeRoutes('[{"dest":"default","gateway":"10.0.0.1","device":"eth1"}]'), [{ dest: 'default', gateway: '10.0.0.1', device: 'eth1', source: '', scope: 0 }]);
  t.throws(() => decodeRoutes('{"dest":"x"}'), /cannot unmarshal object into Go value of type \[\]\*vcTypes.Route/);
});

t.test('add-iface validation: every rule of validInterface, before anything touches the host', async (t) => {
  t.doesNotThrow(() => checkNewInterface(iface()));
  t.doesNotThrow(() => checkNewInterface(iface({ ipAddresses: [] })), 'no address is allowed');
  t.doesNotThrow(() => checkNewInterface(iface({ name: 'a.b-c_d', linkType: 'epair' })));
  const refused: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an empty device', { device: '' }, /device name should not be empty/],
    ['a missing name', { name: '' }, /^name\/mtu\/hwaddr of interface must be specified$/],
    ['a zero mtu', { mtu: 0 }, /^name\/mtu\/hwaddr of interface must be specified$/],
    ['a missing hwAddr', { hwAddr: '' }, /^name\/mtu\/hwaddr of interface must be specified$/],
    ['a 16-character name', { name: 'abcdefghijklmnop' }, /must be 1 to 15 characters/],
    ['a 16-character device', { device: 'tapabcdefghijklm' }, /device name "tapabcdefghijklm" must be 1 to 15/],
    ['a name starting with a digit', { name: '1eth' }, /starts with a letter/],
    ['a name with a slash', { name: 'eth/1' }, /starts with a letter/],
    ['a name with a space inside', { name: 'eth 1' }, /starts with a letter/],
    ['MTU 45', { mtu: 45 }, /^invalid input of MTU : 45$/],
    ['MTU 9601', { mtu: 9601 }, /^invalid input of MTU : 9601$/],
    ['a bad MAC', { hwAddr: '02:42:20:6f:a3' }, /invalid hwAddr/],
    ['a multicast MAC', { hwAddr: '01:00:5e:00:00:01' }, /unicast/],
    ['two addresses', { ipAddresses: [{ family: 0, address: '10.0.0.2', mask: '24' }, { family: 0, address: '10.0.0.3', mask: '24' }] }, /^only one IP address is supported currently$/],
    ['a null address', { ipAddresses: [null] }, /is null/],
    ['an address that is not one', { ipAddresses: [{ family: 0, address: '10.0.0.256', mask: '24' }] }, /invalid IP address "10.0.0.256"/],
    ['an address longer than 18 characters', { ipAddresses: [{ family: 0, address: 'fd00:1234:5678::abcd', mask: '64' }] }, /invalid IP address/],
    ['a mask beyond the family', { ipAddresses: [{ family: 0, address: '10.0.0.2', mask: '33' }] }, /invalid mask "33"/],
    ['a dotted mask', { ipAddresses: [{ family: 0, address: '10.0.0.2', mask: '255.255.255.0' }] }, /invalid mask/],
    ['a vhost-user socket', { vhostUserSocket: '/var/run/vhost-user1' }, /vhostUserSocket is for a VM/],
    ['several queues', { queues: 5 }, /multi-queue/],
    ['an unknown link type', { linkType: 'macvlan' }, /unsupported linkType "macvlan"/],
  ];
  for (const [what, over, message] of refused) t.throws(() => checkNewInterface(iface(over)), message, what);
  t.throws(() => checkNewInterface(iface({ mtu: 45 })), RuntimeNetError);
});

t.test('update-iface takes only name and IPAddresses', async (t) => {
  const update = decodeInterface('{"name":"eth-test","IPAddresses":[{"address":"172.16.0.9","mask":"16"}]}');
  t.doesNotThrow(() => checkInterfaceUpdate(update));
  for (const field of ['mtu', 'device', 'hwAddr', 'linkType', 'queues', 'vhostUserSocket']) {
    const value = field === 'mtu' || field === 'queues' ? 1 : 'x';
    t.throws(() => checkInterfaceUpdate({ ...update, [field]: value }), /update-iface takes only name and IPAddresses/, field);
  }
});

t.test('routes: add needs device and dest, default needs a gateway, a bare address is a /32; del needs only dest', async (t) => {
  const route = (text: string) => decodeRouteText(text);
  t.same(checkAddRoute(route('{"dest":"10.1.0.0/24","gateway":"172.16.0.1","device":"eth-test"}')), { dest: '10.1.0.0/24', gateway: '172.16.0.1', device: 'eth-test', family: 4 });
  t.same(checkAddRoute(route('{"dest":"10.1.0.5","device":"eth-test"}')), { dest: '10.1.0.5/32', device: 'eth-test', family: 4 });
  t.same(checkAddRoute(route('{"dest":"default","gateway":"fd00::1","device":"eth-test"}')), { dest: 'default', gateway: 'fd00::1', device: 'eth-test', family: 6 }, 'IPv6, beyond the contract');
  t.same(checkAddRoute(route('{"dest":"10.9.0.0/16","device":"lo"}')).device, 'lo', 'lo is allowed');
  t.throws(() => checkAddRoute(route('{"dest":"default","device":"eth-test"}')), /default route needs a gateway/);
  t.throws(() => checkAddRoute(route('{"dest":"10.1.0.0/24"}')), /device and destination must be specified/);
  t.throws(() => checkAddRoute(route('{"device":"eth-test"}')), /device and destination must be specified/);
  t.throws(() => checkAddRoute(route('{"dest":"10.1.0.0/33","device":"eth-test"}')), /invalid destination/);
  t.throws(() => checkAddRoute(route('{"dest":"10.1.0.0/24","gateway":"10.1.0.300","device":"eth-test"}')), /invalid gateway/);
  t.throws(() => checkAddRoute(route('{"dest":"10.1.0.0/24","gateway":"fd00::1","device":"eth-test"}')), /not of the family/);
  t.throws(() => checkAddRoute(route('{"dest":"10.1.0.0/24","device":"9eth"}')), /device name "9eth" is invalid/);
  t.same(checkDelRoute(route('{"dest":"10.1.0.5"}')), { dest: '10.1.0.5/32' });
  t.throws(() => checkDelRoute(route('{"gateway":"10.0.0.1"}')), /^destination must be specified when remove route\.$/);
});

t.test('answers are printed as Go prints them: struct order, omitempty, capitalised address fields, one line', async (t) => {
  const answered = iface({ ipAddresses: [{ family: 2, address: '172.16.0.3', mask: '16' }] });
  t.equal(
    encode(interfaceJson(answered)),
    '{"device":"tap-test","name":"eth-test","IPAddresses":[{"Family":2,"Address":"172.16.0.3","Mask":"16"}],"mtu":1500,"hwAddr":"02:42:20:6f:a3:69"}\n',
    'add-iface: linkType and vhostUserSocket are not echoed',
  );
  t.equal(
    encode(interfaceJson(iface(), { echo: true })),
    '{"device":"tap-test","name":"eth-test","IPAddresses":[{"Family":0,"Address":"172.16.0.3","Mask":"16"}],"mtu":1500,"hwAddr":"02:42:20:6f:a3:69","linkType":"tap"}\n',
    "del-iface's failure: the input echoed, Family 0, linkType included",
  );
  t.equal(encode([routeJson({ dest: '10.1.0.0/24', device: 'eth-test' })]), '[{"dest":"10.1.0.0/24","device":"eth-test"}]\n', 'an empty gateway is left out');
  t.equal(encode(null), 'null\n');
  t.equal(encode({ a: '<&>' }), '{"a":"\\u003c\\u0026\\u003e"}\n', 'HTML characters escaped as Go does');
});

t.test("kata-ipvs requests in the one string kata's CLI sends its agent", async (t) => {
  const { decodeIpvsRequest } = await import('../src/runtime-net/api.js');
  t.same(decodeIpvsRequest('ipvsadm -A -t 10.0.0.1:80 -s rr'), { kind: 'ipvsadm', parameters: '-A -t 10.0.0.1:80 -s rr' });
  t.same(decodeIpvsRequest('ipvsadm'), { kind: 'ipvsadm', parameters: '' }, 'ipvsadm alone: its own grammar refuses it later');
  t.same(decodeIpvsRequest('conntrack -D --orig-dst 10.0.0.1 --protonum tcp'), { kind: 'cleanup', parameters: '--orig-dst 10.0.0.1 --protonum tcp' });
  t.same(decodeIpvsRequest('restore|2|-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m\n'), { kind: 'restore', rules: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.2:80 -m\n', replace: false });
  t.same(decodeIpvsRequest('restore-replace|0|'), { kind: 'restore', rules: '', replace: true });
  for (const bad of ['restore|1|', 'restore|2|-A -t 10.0.0.1:80', 'restore|x|-A', 'conntrack -L', 'ipvsadmx -L', '/sbin/ipvsadm -L', ' ipvsadm -L', 'sh -c id', '']) {
    t.throws(() => decodeIpvsRequest(bad), { name: 'BalancerError' }, JSON.stringify(bad));
  }
});
