// Every name jailnet leaves on a host is spelled in src/persistent-names.ts alone: this
// test scans src/ (comments aside) for the literals, and checks the names' own rules.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  hostInterfaceDescription,
  hostInterfaceName,
  parseHostInterfaceDescription,
  podJailName,
  publicationKey,
  rdrAnchor,
} from '../src/persistent-names.js';
import { isInterfaceName } from '../src/names.js';

const HOME = path.join('src', 'persistent-names.ts');

/** Persistent name literals: pf anchors and tables, the pod prefix, the epair prefix, the description format. */
const LITERALS: Array<[string, RegExp]> = [
  ['cni-rdr', /cni-rdr/],
  ['cni-nat', /cni-nat/],
  ['jailnet-fw', /jailnet-fw/],
  ['jailnet-pods', /jailnet-pods/],
  ['the jailnet- pod prefix', /['"`]jailnet-/],
  ['the jn interface prefix', /['"`]jnt?(['"`]|\$\{)/],
  ['the description format', /jailnet: pod /],
];

/** Source without comments (line comments and blocks), good enough for literal scanning. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

async function sources(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : Promise.resolve(e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []))));
  return nested.flat();
}

t.test('each persistent name literal appears in exactly one module of src/', async (t) => {
  const files = await sources('src');
  t.ok(files.length > 50, 'the scan sees the whole source tree');
  for (const [what, pattern] of LITERALS) {
    const found: string[] = [];
    for (const file of files) if (pattern.test(withoutComments(await fs.readFile(file, 'utf8')))) found.push(file);
    t.same(found, [HOME], `${what} is spelled only in ${HOME}`);
  }
});

t.test('the scanner finds a literal where one is, and not in a comment', async (t) => {
  t.ok(LITERALS[1]![1].test(withoutComments("const table = 'cni-nat';")));
  t.notOk(LITERALS[1]![1].test(withoutComments('// the <cni-nat> table\nconst x = 1;')));
  t.notOk(LITERALS[1]![1].test(withoutComments('/* <cni-nat> */ const x = 1;')));
});

t.test('names and their parsers', async (t) => {
  const name = hostInterfaceName('podman', 'abc123', 'eth0');
  t.equal(name.length, 14);
  t.ok(isInterfaceName(name), 'a valid FreeBSD interface name (IFNAMSIZ)');
  t.equal(hostInterfaceName('podman', 'abc123', 'eth0'), name, 'stable: DEL finds it without records');
  t.not(hostInterfaceName('podman', 'abc123', 'eth1'), name);
  t.same(parseHostInterfaceDescription(hostInterfaceDescription('jailnet-web', 'eth0', 'podman')), { jail: 'jailnet-web', ifname: 'eth0', network: 'podman' });
  t.equal(parseHostInterfaceDescription('a user\'s own description'), undefined);
  t.equal(parseHostInterfaceDescription(undefined), undefined);
  const long = 'f'.repeat(64);
  t.equal(publicationKey({ containerId: long, ifname: 'eth0' }), `${'f'.repeat(32)}-eth0`, 'container IDs cut to 32 characters, as podman\'s plugins do');
  t.equal(rdrAnchor({ containerId: 'c1', ifname: 'eth1' }), 'cni-rdr/c1-eth1');
  t.equal(podJailName('web'), 'jailnet-web');
});
