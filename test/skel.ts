// The plugin skeleton in-process: a prevResult of any version is read, the result is
// written in the config's version, and failures become CNI error JSON.
import t from 'tap';
import { CniError } from '../src/cni/errors.js';
import { runPlugin, type Plugin, type PluginRequest } from '../src/cni/skel.js';

const VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

/** A chained plugin that passes its prevResult through, as portmap does. */
const passThrough: Plugin = {
  add: async (request: PluginRequest) => {
    if (!request.prevResult) throw new CniError(7, 'no prevResult');
    return request.prevResult;
  },
  del: async () => undefined,
  check: async () => undefined,
  gc: async () => undefined,
  status: async () => undefined,
};

async function call(plugin: Plugin, env: Record<string, string>, stdin: unknown) {
  let out = '';
  const code = await runPlugin(plugin, {
    env: { CNI_CONTAINERID: 'c', CNI_NETNS: '/n', CNI_IFNAME: 'eth0', CNI_PATH: '/p', ...env },
    stdin: [Buffer.from(typeof stdin === 'string' ? stdin : JSON.stringify(stdin))],
    writeStdout: (text) => (out += text),
  });
  return { code, out, json: out ? JSON.parse(out) : undefined };
}

function prevResultIn(version: string) {
  const old = version < '1.0.0';
  return {
    cniVersion: version,
    interfaces: [{ name: 'bridge0', mac: '02:00:00:00:00:01', mtu: 9000 }, { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: 'pod1' }],
    ips: [
      { ...(old ? { version: '4' } : {}), interface: 1, address: '10.9.0.2/24', gateway: '10.9.0.1' },
      { ...(old ? { version: '6' } : {}), interface: 1, address: 'fd09::2/64' },
    ],
    routes: [{ dst: '0.0.0.0/0', gw: '10.9.0.1', ...(version === '1.1.0' ? { mtu: 1400 } : {}) }],
    dns: { nameservers: ['10.9.0.1'] },
  };
}

for (const from of VERSIONS) {
  for (const to of VERSIONS) {
    t.test(`prevResult ${from} → result ${to}`, async (t) => {
      const { code, json } = await call(passThrough, { CNI_COMMAND: 'ADD' }, {
        cniVersion: to, name: 'n', type: 'pass', prevResult: prevResultIn(from),
      });
      t.equal(code, 0);
      t.equal(json.cniVersion, to);
      const old = to < '1.0.0';
      t.same(json.ips.map((ip: Record<string, unknown>) => ip.version), old ? ['4', '6'] : [undefined, undefined],
        old ? 'ips[].version is written below 1.0.0' : 'no ips[].version from 1.0.0 on');
      t.same(json.ips.map((ip: Record<string, unknown>) => ip.interface), [1, 1]);
      t.equal('mtu' in json.interfaces[0], !old, 'interface mtu only from 1.0.0');
      t.equal('mtu' in json.routes[0], from === '1.1.0' && to === '1.1.0', 'route mtu only in 1.1.0');
      t.same(json.dns, { nameservers: ['10.9.0.1'] });
    });
  }
}

t.test('a prevResult without cniVersion is read in the config version; a broken one is code 6', async (t) => {
  const { cniVersion: _v, ...bare } = prevResultIn('1.0.0');
  const ok = await call(passThrough, { CNI_COMMAND: 'ADD' }, { cniVersion: '1.0.0', name: 'n', prevResult: bare });
  t.equal(ok.code, 0);
  const broken = await call(passThrough, { CNI_COMMAND: 'ADD' }, { cniVersion: '1.0.0', name: 'n', prevResult: { ips: 'x' } });
  t.equal(broken.code, 1);
  t.equal(broken.json.code, 6);
  const oldPrev = await call(passThrough, { CNI_COMMAND: 'ADD' }, { cniVersion: '1.0.0', name: 'n', prevResult: { cniVersion: '0.2.0' } });
  t.equal(oldPrev.json.code, 1, 'a prevResult of an unsupported version is code 1');
});

t.test('errors: JSON on stdout in the config version, thrown errors kept', async (t) => {
  const failing: Plugin = { ...passThrough, add: async () => { throw new CniError(11, 'busy', 'retry'); } };
  const { code, json } = await call(failing, { CNI_COMMAND: 'ADD' }, { cniVersion: '0.4.0', name: 'n' });
  t.equal(code, 1);
  t.same(json, { cniVersion: '0.4.0', code: 11, msg: 'busy', details: 'retry' });
  const crash: Plugin = { ...passThrough, del: async () => { throw new Error('boom'); } };
  const crashed = await call(crash, { CNI_COMMAND: 'DEL' }, { cniVersion: '1.1.0', name: 'n' });
  t.same(crashed.json, { cniVersion: '1.1.0', code: 199, msg: 'boom' }, 'an unexpected error is an internal error');
  const big = await call(passThrough, { CNI_COMMAND: 'ADD' }, 'x'.repeat(1024 * 1024 + 1));
  t.equal(big.json.code, 5, 'stdin over 1 MiB is an I/O error');
  const array = await call(passThrough, { CNI_COMMAND: 'ADD' }, '[1]');
  t.equal(array.json.code, 6, 'a config that is not an object is a decoding error');
  const noName = await call(passThrough, { CNI_COMMAND: 'ADD' }, { cniVersion: '1.0.0' });
  t.equal(noName.json.code, 7, 'a config without a network name is code 7');
});
