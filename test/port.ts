// The FreeBSD port skeleton (ports/net/jailnet) against what really gets installed:
// scripts/stage.sh (the port's do-install) into a scratch DESTDIR, every file and link
// in pkg-plist and nothing else (dist/ and node_modules/ are listed by post-install),
// the links resolving, the rc.d files the port installs being rc.d/ with %%PREFIX%%,
// pkg-message holding the pf.conf and sysctl lines `jailnet status` asks for, and the
// sample configuration one jailnet reads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, promises as fs, readdirSync, realpathSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../src/config/jailnet-conf.js';
import { MASQUERADE_TABLE, RDR_ANCHOR_PARENT, ISOLATION_ANCHOR } from '../src/persistent-names.js';
import { ROOT } from './helpers/run.js';

const PORT = path.join(ROOT, 'ports', 'net', 'jailnet');

function walk(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() && !entry.isSymbolicLink() ? walk(full, base) : [path.relative(base, full)];
  });
}

t.test('stage.sh installs exactly pkg-plist', async (t) => {
  const dest = mkdtempSync(path.join(tmpdir(), 'jailnet-stage-'));
  t.teardown(() => fs.rm(dest, { recursive: true, force: true }));
  const staged = spawnSync('sh', [path.join(ROOT, 'scripts', 'stage.sh'), dest, '/usr/local'], { encoding: 'utf8', env: { ...process.env, STAGE_NODE_MODULES: 'no' } });
  t.equal(staged.status, 0, staged.stderr);
  const prefix = path.join(dest, 'usr', 'local');
  const installed = walk(prefix).filter((f) => !f.startsWith('lib/jailnet/dist/')).sort();
  const plist = (await fs.readFile(path.join(PORT, 'pkg-plist'), 'utf8')).split('\n').filter((l) => l !== '').map((l) => l.replace(/^@sample /, '')).sort();
  t.same(installed, plist, 'every installed file is in pkg-plist, and every entry is installed');
  t.ok(existsSync(path.join(prefix, 'lib/jailnet/dist/cli/main.js')), 'the built program (listed by post-install)');
  t.notOk(walk(path.join(prefix, 'lib/jailnet/dist')).some((f) => !f.endsWith('.js')), 'only .js from dist/');
  for (const link of ['bin/jailnet', ...plist.filter((f) => f.startsWith('libexec/jailnet/cni/'))]) {
    t.ok(lstatSync(path.join(prefix, link)).isSymbolicLink(), `${link} is a link`);
    t.ok(realpathSync(path.join(prefix, link)).startsWith(realpathSync(path.join(prefix, 'lib/jailnet'))), `${link} resolves into lib/jailnet`);
  }
  t.equal(lstatSync(path.join(prefix, 'lib/jailnet/libexec/cni/bridge')).mode & 0o777, 0o755);
  const lint = spawnSync('shellcheck', ['-s', 'sh', path.join(ROOT, 'scripts', 'stage.sh')], { encoding: 'utf8' });
  t.equal(lint.status, 0, `stage.sh is shellcheck-clean: ${lint.stdout}`);
  const page = spawnSync('sh', ['-c', `gzip -dc ${path.join(prefix, 'share/man/man8/jailnet.8.gz')} | mandoc -T lint -W warning`], { encoding: 'utf8' });
  t.equal(page.status, 0, `the installed man page: ${page.stdout}${page.stderr}`);
});

t.test("the port's rc.d files are rc.d/ with %%PREFIX%%", async (t) => {
  for (const name of ['jailnet', 'jailnetd']) {
    const source = await fs.readFile(path.join(ROOT, 'rc.d', name), 'utf8');
    t.equal(await fs.readFile(path.join(PORT, 'files', `${name}.in`), 'utf8'), source.replaceAll('/usr/local', '%%PREFIX%%'), name);
  }
  t.match(await fs.readFile(path.join(PORT, 'Makefile'), 'utf8'), /^USE_RC_SUBR=\tjailnet jailnetd$/m);
});

t.test('pkg-message holds what `jailnet status` asks for; the sample configuration is read as is', async (t) => {
  const message = await fs.readFile(path.join(PORT, 'pkg-message'), 'utf8');
  for (const line of [
    `rdr-anchor "${RDR_ANCHOR_PARENT}/*"`,
    `nat-anchor "${RDR_ANCHOR_PARENT}/*"`,
    `anchor "${ISOLATION_ANCHOR}"`,
    `table <${MASQUERADE_TABLE}> persist`,
    `nat on $ext_if inet from <${MASQUERADE_TABLE}> to any -> ($ext_if)`,
    'net.pf.filter_local=1',
    'sysctl net.inet.ip.forwarding=1',
    'kld_list+="if_bridge if_epair pf"',
    'cni_plugin_dirs = ["%%PREFIX%%/libexec/jailnet/cni"]',
  ]) {
    t.ok(message.includes(line), line);
  }
  const conf = await loadConfig(path.join(ROOT, 'etc', 'jailnet.conf.sample'), '');
  t.match(conf.runtime, { stateDir: '/var/db/jailnet', cniPluginDirs: ['/usr/local/libexec/jailnet/cni'] });
});
