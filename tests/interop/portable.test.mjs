// tests/interop/portable.test.mjs: `gatehouse export`, `import` and `migrate` (issue 8, items 1-3
// and 5) against the generated client-config corpus (tests/portable/make-corpus.mjs: fresh
// secrets of each provider's shape on every run, none committed). Every file the binary writes
// is parsed with that client's kind of parser (JSON, JSONC, TOML via smol-toml, YAML via yaml)
// and checked to contain none of the generated secrets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import YAML from 'yaml';
import { makeCorpus } from '../portable/make-corpus.mjs';

const BIN = process.env.GATEHOUSE_BIN;
if (!BIN) throw new Error('set GATEHOUSE_BIN to the gatehouse binary');

const CLIENTS = ['claude-desktop', 'claude-code', 'vscode', 'cursor', 'windsurf', 'zed', 'codex',
  'gemini', 'continue', 'cline'];
const ROOT_KEY = { 'claude-desktop': 'mcpServers', 'claude-code': 'mcpServers', vscode: 'servers',
  cursor: 'mcpServers', windsurf: 'mcpServers', zed: 'context_servers', codex: 'mcp_servers',
  gemini: 'mcpServers', continue: 'mcpServers', cline: 'mcpServers', 'mcp.json': 'mcpServers' };
// clients whose config file cannot hold a remote server with OAuth: entries run gatehouse connect
const VIA_CONNECT = new Set(['claude-desktop', 'windsurf', 'continue', 'cline']);
// one corpus file per client (paths relative to the corpus root)
const FILES = {
  'claude-desktop': 'home/.config/Claude/claude_desktop_config.json',
  'claude-code': 'home/project/.mcp.json',
  vscode: 'home/project/.vscode/mcp.json',
  cursor: 'home/.cursor/mcp.json',
  windsurf: 'home/.codeium/windsurf/mcp_config.json',
  zed: 'home/.config/zed/settings.json',
  codex: 'home/.codex/config.toml',
  gemini: 'home/.gemini/settings.json',
  continue: 'home/.continue/config.yaml',
  cline: 'home/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json',
};

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-portable-'));
const manifest = makeCorpus(path.join(tmp, 'corpus'));
const SECRETS = manifest.secrets.map((s) => s.value);

function run(args, opts = {}) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', ...opts });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** JSONC to JSON: comments and trailing commas out (strings left alone). */
function stripJsonc(s) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j;
    } else if (c === '/' && s[i + 1] === '/') {
      while (i < s.length && s[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && s[i + 1] === '*') {
      i = s.indexOf('*/', i + 2) + 1;
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

/** A client file parsed with that client's kind of parser; returns its servers by name. */
function servers(client, text) {
  if (client === 'codex') return parseToml(text).mcp_servers ?? {};
  if (client === 'continue') {
    const list = YAML.parse(text).mcpServers ?? [];
    return Object.fromEntries(list.map((s) => [s.name, s]));
  }
  const doc = JSON.parse(client === 'vscode' || client === 'zed' ? stripJsonc(text) : text);
  return doc[ROOT_KEY[client]] ?? {};
}

function assertNoSecret(text, what) {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${what} holds a generated secret`);
}

/** Where a server entry connects: its URL, or the URL it hands to `gatehouse connect`. */
function target(entry) {
  if (entry.url || entry.httpUrl || entry.serverUrl) return entry.url ?? entry.httpUrl ?? entry.serverUrl;
  const a = entry.args ?? [];
  return a[0] === 'connect' ? a[1] : undefined;
}

test('import each client file: servers in the catalog, secrets reported as references, never copied', () => {
  for (const [client, rel] of Object.entries(FILES)) {
    const file = path.join(manifest.root, rel);
    const r = run(['import', '--client', client, file]);
    assert.equal(r.code, 0, `${client}: ${r.err}`);
    assertNoSecret(r.out + r.err, `import ${client}`);
    const cat = JSON.parse(r.out);
    const before = Object.keys(servers(client, fs.readFileSync(file, 'utf8')));
    assert.deepEqual(Object.keys(cat.mcpServers).sort(), before.sort(), client);
    const planted = manifest.secrets.filter((s) => s.file === rel).length;
    if (planted) assert.match(r.err, /literal secret .*-> env:[A-Z0-9_]+/, client);
  }
});

test('round trip: import every client, export to every other; each parses, no secret, same servers', () => {
  for (const [from, rel] of Object.entries(FILES)) {
    const catFile = path.join(tmp, `cat-${from}.json`);
    const r = run(['import', '--client', from, path.join(manifest.root, rel), '--catalog', catFile]);
    assert.equal(r.code, 0, r.err);
    const cat = JSON.parse(fs.readFileSync(catFile, 'utf8')).mcpServers;
    for (const to of [...CLIENTS, 'mcp.json']) {
      const e = run(['export', '--client', to, '--catalog', catFile]);
      assert.equal(e.code, 0, `${from} -> ${to}: ${e.err}`);
      assertNoSecret(e.out + e.err, `${from} -> ${to}`);
      const got = servers(to === 'mcp.json' ? 'claude-code' : to, e.out);
      assert.deepEqual(Object.keys(got).sort(), Object.keys(cat).sort(), `${from} -> ${to}`);
      for (const [name, s] of Object.entries(cat))
        if (s.url) assert.equal(target(got[name]), s.url, `${from} -> ${to}: ${name}`);
    }
  }
});

const GW = `gateway:
  workers: 1
auth:
  resource: https://gw.example.com
  issuers:
    - issuer: https://idp.example.com
  scopes:
    required: [mcp:tools]
upstreams:
  - name: github
    url: https://api.githubcopilot.com/mcp/
  - name: local
    command: npx
    args: ["-y", "@modelcontextprotocol/server-everything", "stdio"]
    env:
      PATH: /usr/bin
      TOKEN: env:SET_ONLY_WHERE_THE_GATEWAY_RUNS
`;

test('export from the gateway config: every entry points at the gateway; stdio-only clients use gatehouse connect', () => {
  const cfg = path.join(tmp, 'gw.yaml');
  fs.writeFileSync(cfg, GW);
  for (const client of CLIENTS) {
    const r = run(['export', '--client', client, '--config', cfg, '--gatehouse', 'gatehouse']);
    assert.equal(r.code, 0, `${client}: ${r.err}`);
    const got = servers(client, r.out);
    assert.deepEqual(Object.keys(got).sort(), ['github', 'local'], client);
    assert.equal(target(got.github), 'https://gw.example.com/mcp/github', client);
    assert.equal(target(got.local), 'https://gw.example.com/mcp/local', client);
    const viaConnect = got.github.command === 'gatehouse';
    assert.equal(viaConnect, VIA_CONNECT.has(client), `${client}: connect bridge or not`);
    assert.ok(!/Authorization|Bearer/.test(r.out), `${client}: no token in the file`);
  }
  const m = run(['export', '--client', 'mcp.json', '--config', cfg]);
  assert.deepEqual(JSON.parse(m.out).mcpServers.github.scopes, ['mcp:tools']);
  const bad = run(['export', '--client', 'vscode', '--config', path.join(tmp, 'missing.yaml')]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /missing\.yaml/);
  assert.equal(run(['export', '--client', 'nope', '--config', cfg]).code, 2);
});

test('--merge keeps the other entries, comments and indentation, and writes a backup', () => {
  const cfg = path.join(tmp, 'gw.yaml');
  fs.writeFileSync(cfg, GW);
  const vs = path.join(tmp, 'merge-vscode.json');
  const original = '{\n\t// mine\n\t"servers": {\n\t\t"mine": { "command": "node", "args": ["x.js"] }, // keep\n\t\t"github": { "type": "http", "url": "https://old.example/mcp" },\n\t},\n\t"inputs": []\n}\n';
  fs.writeFileSync(vs, original, { mode: 0o640 });
  let r = run(['export', '--client', 'vscode', '--config', cfg, '--merge', vs]);
  assert.equal(r.code, 0, r.err);
  const text = fs.readFileSync(vs, 'utf8');
  assert.ok(text.includes('// mine') && text.includes('// keep'), 'comments kept');
  assert.ok(text.includes('\t\t"mine": { "command": "node", "args": ["x.js"] }'), 'other entry kept verbatim');
  const s = servers('vscode', text);
  assert.equal(s.github.url, 'https://gw.example.com/mcp/github');
  assert.equal(s.local.url, 'https://gw.example.com/mcp/local');
  assert.equal(fs.readFileSync(`${vs}.bak`, 'utf8'), original);
  assert.equal(fs.statSync(vs).mode & 0o777, 0o640, 'mode kept');
  // merging again changes nothing
  r = run(['export', '--client', 'vscode', '--config', cfg, '--merge', vs]);
  assert.match(r.err, /already up to date/);

  const toml = path.join(tmp, 'merge-config.toml');
  fs.writeFileSync(toml, 'model = "o3" # mine\n\n[mcp_servers.mine]\ncommand = "node"\n\n[mcp_servers.github]\nurl = "https://old"\n\n[mcp_servers.github.env]\nA = "b"\n\n[profiles.x]\nmodel = "m"\n');
  assert.equal(run(['export', '--client', 'codex', '--config', cfg, '--merge', toml]).code, 0);
  const t = parseToml(fs.readFileSync(toml, 'utf8'));
  assert.equal(t.model, 'o3');
  assert.equal(t.profiles.x.model, 'm');
  assert.equal(t.mcp_servers.mine.command, 'node');
  assert.deepEqual(t.mcp_servers.github, { url: 'https://gw.example.com/mcp/github' });
  assert.ok(fs.existsSync(`${toml}.bak`));

  const yml = path.join(tmp, 'merge-continue.yaml');
  fs.writeFileSync(yml, 'name: mine\nversion: 1.0.0\nschema: v1\nmcpServers:\n  - name: mine\n    command: node\n  - name: github\n    type: sse\n    url: https://old\nrules:\n  - be nice\n');
  assert.equal(run(['export', '--client', 'continue', '--config', cfg, '--merge', yml]).code, 0);
  const y = YAML.parse(fs.readFileSync(yml, 'utf8'));
  assert.deepEqual(y.rules, ['be nice']);
  assert.deepEqual(y.mcpServers.map((x) => x.name), ['mine', 'github', 'local']);
  assert.deepEqual(y.mcpServers[1].args, ['connect', 'https://gw.example.com/mcp/github']);
});

test('migrate: no secret left, no entry lost, scan finds nothing; dry run writes nothing', () => {
  for (const [client, rel] of Object.entries(FILES)) {
    const dir = path.join(tmp, 'migrate', client);
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.copyFileSync(path.join(manifest.root, rel), file);
    const before = fs.readFileSync(file, 'utf8');
    const names = Object.keys(servers(client, before)).sort();

    const dry = run(['migrate', file, '--client', client, '--dry-run', '--via-gateway', 'https://gw.example.com']);
    assert.equal(dry.code, 0, `${client}: ${dry.err}`);
    assert.equal(fs.readFileSync(file, 'utf8'), before, `${client}: dry run wrote`);
    assert.ok(!fs.existsSync(`${file}.bak`));
    if (manifest.secrets.some((s) => s.file === rel)) assert.match(dry.out, /^--- /, client);

    const r = run(['migrate', file, '--client', client, '--via-gateway', 'https://gw.example.com', '--strict']);
    assert.equal(r.code, 0, `${client}: ${r.err}`);
    const after = fs.readFileSync(file, 'utf8');
    assertNoSecret(after + r.err + dry.out, `migrate ${client}`);
    assert.deepEqual(Object.keys(servers(client, after)).sort(), names, `${client}: entries`);
    if (after !== before) assert.equal(fs.readFileSync(`${file}.bak`, 'utf8'), before);

    const scan = run(['scan', '--format', 'json', '--fail-on', 'secret', file]);
    assert.equal(scan.code, 0, `${client}: scan after migrate: ${scan.out}`);
  }
});

/** The client a corpus file belongs to (by its path, as migrate guesses it). */
function clientOf(rel) {
  if (rel.endsWith('claude_desktop_config.json') || rel.includes('.continue/mcpServers/') && rel.endsWith('.json')) return 'claude-desktop';
  if (rel.endsWith('.claude.json') || rel.endsWith('.mcp.json')) return 'claude-code';
  if (rel.endsWith('.vscode/mcp.json')) return 'vscode';
  if (rel.endsWith('.cursor/mcp.json')) return 'cursor';
  if (rel.endsWith('mcp_config.json')) return 'windsurf';
  if (rel.endsWith('zed/settings.json')) return 'zed';
  if (rel.endsWith('config.toml')) return 'codex';
  if (rel.endsWith('.gemini/settings.json')) return 'gemini';
  if (rel.endsWith('.yaml')) return 'continue';
  if (rel.endsWith('cline_mcp_settings.json')) return 'cline';
  return undefined;
}

test('migrate every client file of the corpus, then scan the whole tree: only envFile dotenv files keep secrets', () => {
  const root = path.join(tmp, 'migrate-all');
  fs.cpSync(manifest.root, root, { recursive: true });
  for (const rel of manifest.files) {
    const client = clientOf(rel);
    if (!client) continue;
    const file = path.join(root, rel);
    const before = fs.readFileSync(file, 'utf8');
    const r = run(['migrate', file, '--client', client, '--via-gateway', 'https://gw.example.com']);
    assert.equal(r.code, 0, `${rel}: ${r.err}`);
    const after = fs.readFileSync(file, 'utf8');
    if (client !== 'continue' || !rel.includes('mcpServers/'))
      assert.deepEqual(Object.keys(servers(client, after)).sort(),
        Object.keys(servers(client, before)).sort(), `${rel}: entries`);
  }
  const scan = run(['scan', '--format', 'json', path.join(root, 'home')]);
  const left = JSON.parse(scan.out).findings.filter((f) => f.kind === 'secret');
  for (const f of left) assert.match(f.file, /\.env$/, `secret left in ${f.file} (${f.rule})`);
});

test('migrate without a way to reference a secret says so (and --strict fails)', () => {
  const file = path.join(tmp, 'stuck', 'claude_desktop_config.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.copyFileSync(path.join(manifest.root, FILES['claude-desktop']), file);
  const r = run(['migrate', file, '--strict']);
  assert.equal(r.code, 1);
  assert.match(r.err, /NOT migrated/);
  assert.match(r.err, /--via-gateway/);
  assertNoSecret(r.err, 'report');
  const guess = run(['migrate', path.join(tmp, 'gw.yaml')]);
  assert.equal(guess.code, 2);
  assert.match(guess.err, /--client NAME/);
});

test('import from the MCP registry server.json: secrets become references', () => {
  const file = path.join(tmp, 'server.json');
  fs.writeFileSync(file, JSON.stringify({
    name: 'io.github.acme/weather', description: 'Weather tools', version: '1.0.2',
    packages: [{ registryType: 'npm', identifier: '@acme/weather-mcp', version: '1.0.2',
      transport: { type: 'stdio' },
      environmentVariables: [{ name: 'WEATHER_API_KEY', isRequired: true, isSecret: true }] }],
  }));
  const r = run(['import', '--client', 'registry', file]);
  assert.equal(r.code, 0, r.err);
  const w = JSON.parse(r.out).mcpServers.weather;
  assert.deepEqual(w.args, ['-y', '@acme/weather-mcp@1.0.2']);
  assert.equal(w.env.WEATHER_API_KEY, '${env:WEATHER_API_KEY}');
  assert.equal(w.description, 'Weather tools');
  const bad = path.join(tmp, 'bad.json');
  fs.writeFileSync(bad, '{"mcpServers": {"x": ');
  const b = run(['import', '--client', 'cursor', bad]);
  assert.equal(b.code, 1);
  assert.match(b.err, /bad\.json:1:\d+: not valid JSON/);
});
