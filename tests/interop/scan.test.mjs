// `gatehouse scan` against a generated corpus of every client's config files
// (tests/portable/make-corpus.mjs): every planted secret is found, nothing else is,
// no output ever holds a full secret, risky settings are reported, SARIF validates
// against the official SARIF 2.1.0 schema, and the exit status follows the findings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { GATEHOUSE_BIN, HERE } from './lib/harness.mjs';
import { makeCorpus } from '../portable/make-corpus.mjs';

const require = createRequire(import.meta.url);
const Ajv04 = require('ajv-draft-04');
const addFormats = require('ajv-formats');
// The official schema, as Microsoft's SARIF SDK ships it (schemastore's sarif-2.1.0-rtm.5).
const SARIF_SCHEMA = require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

let root;
let manifest;

/** Runs gatehouse scan in the corpus root; returns { status, stdout, stderr }. */
function scan(args, env = {}) {
  const r = spawnSync(GATEHOUSE_BIN, ['scan', ...args], {
    cwd: root,
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0', ...env },
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function scanJson(args, env) {
  const r = scan(['--format', 'json', ...args], env);
  return { ...r, report: JSON.parse(r.stdout) };
}

const key = (f) => `${f.file}:${f.line}:${f.rule}`;

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-scan-'));
  manifest = makeCorpus(root);
});

after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

test('the corpus covers every client and every provider shape', () => {
  const files = manifest.files.join('\n');
  for (const f of [
    'claude_desktop_config.json', '.claude.json', '.mcp.json', '.vscode/mcp.json',
    '.cursor/mcp.json', 'windsurf/mcp_config.json', 'zed/settings.json',
    '.codex/config.toml', '.gemini/settings.json', '.continue/config.yaml',
    '.continue/mcpServers/', 'cline_mcp_settings.json',
  ])
    assert.ok(files.includes(f), `corpus has ${f}`);
  const rules = new Set(manifest.secrets.map((s) => s.rule));
  for (const r of [
    'github-pat', 'github-fine-grained-pat', 'github-oauth', 'gitlab-pat', 'slack-bot-token',
    'slack-user-token', 'slack-webhook-url', 'openai-api-key', 'anthropic-api-key',
    'aws-access-token', 'aws-secret-access-key', 'stripe-access-token', 'gcp-api-key',
    'gcp-service-account', 'huggingface-access-token', 'npm-access-token', 'jwt', 'private-key',
    'generic-api-key',
  ])
    assert.ok(rules.has(r), `corpus plants ${r}`);
});

test('every planted secret is found, and nothing else is flagged as a secret', () => {
  const { status, report } = scanJson(['home', 'clean']);
  assert.equal(status, 1);
  assert.deepEqual(report.errors, []);
  const found = report.findings.filter((f) => f.kind === 'secret');
  const foundKeys = new Set(found.map(key));
  for (const s of manifest.secrets) assert.ok(foundKeys.has(key(s)), `found ${key(s)}`);
  const planted = new Set(manifest.secrets.map(key));
  for (const f of found)
    assert.ok(planted.has(key(f)), `flagged only planted secrets, not ${key(f)} (${f.path})`);
  assert.equal(found.length, manifest.secrets.length);
});

test('risky settings are found, and only those', () => {
  const { report } = scanJson(['home', 'clean']);
  const risks = report.findings.filter((f) => f.kind === 'risk');
  const got = new Set(risks.map(key));
  for (const r of manifest.risks) assert.ok(got.has(key(r)), `found ${key(r)}`);
  const planted = new Set(manifest.risks.map(key));
  for (const f of risks) assert.ok(planted.has(key(f)), `unexpected risk ${key(f)}: ${f.message}`);
});

test('placeholders and references are never flagged: the clean files scan to exit 0', () => {
  const r = scan(['clean']);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /0 secrets, 0 risky settings in 3 files scanned/);
});

test('no output format ever holds a full secret', () => {
  const outs = ['text', 'json', 'sarif'].map((fmt) => scan(['--format', fmt, 'home']));
  const env = scan([], { HOME: path.join(root, 'home') });
  for (const o of [...outs, env]) {
    const all = o.stdout + o.stderr;
    for (const s of manifest.secrets) {
      assert.ok(!all.includes(s.value), `${s.rule} value leaked`);
      // nor a long piece of it: at most the first few characters are shown
      const mid = s.value.slice(4, 16);
      if (mid.length === 12) assert.ok(!all.includes(mid), `${s.rule} value partly leaked`);
    }
  }
  assert.match(outs[0].stdout, /ghp_\u2026\(40 chars\)/);
});

test('SARIF output validates against the SARIF 2.1.0 JSON schema', () => {
  const ajv = new Ajv04({ strict: false, allErrors: true, unicodeRegExp: false });
  addFormats(ajv);
  const validate = ajv.compile(SARIF_SCHEMA);
  const { stdout } = scan(['--format', 'sarif', 'home', 'clean']);
  const log = JSON.parse(stdout);
  assert.ok(validate(log), JSON.stringify(validate.errors, null, 1));
  // the validator is not a rubber stamp
  assert.equal(validate({ ...log, version: '2.0.0' }), false);
  const run = log.runs[0];
  const ids = run.tool.driver.rules.map((r) => r.id);
  for (const r of run.tool.driver.rules) {
    assert.ok(r.helpUri.startsWith('https://'), `${r.id} names its source`);
    assert.ok(['error', 'warning'].includes(r.defaultConfiguration.level));
  }
  assert.equal(run.results.length, manifest.secrets.length + manifest.risks.length);
  for (const res of run.results) {
    assert.equal(ids[res.ruleIndex], res.ruleId);
    const loc = res.locations[0].physicalLocation;
    assert.ok(loc.region.startLine >= 1 && loc.region.startColumn >= 1);
    assert.ok(!loc.artifactLocation.uri.includes(' '), 'URIs are percent-encoded');
    assert.match(res.partialFingerprints['gatehouseScan/v1'], /^[0-9a-f]{32}$/);
  }
});

test('default locations: a fake HOME with files at the documented paths', () => {
  const home = path.join(root, 'home');
  const { status, report } = scanJson([], { HOME: home, CODEX_HOME: '' });
  assert.equal(status, 1);
  const scanned = report.files.map((f) => path.relative(root, f.path));
  for (const f of manifest.files.filter((f) => f.startsWith('home/') && !f.startsWith('home/project/')))
    assert.ok(scanned.includes(f), `default scan reads ${f}`);
  assert.ok(!scanned.some((f) => f.startsWith('home/project/')), 'projects are not default paths');
  const clients = new Set(report.files.map((f) => f.client));
  for (const c of ['claude-desktop', 'claude-code', 'cursor', 'windsurf', 'zed', 'codex', 'gemini', 'continue', 'cline'])
    assert.ok(clients.has(c), `client ${c} recognised`);
  const found = new Set(
    report.findings.map((f) => `${path.relative(root, f.file)}:${f.line}:${f.rule}`),
  );
  for (const s of manifest.secrets.filter((s) => !s.file.startsWith('home/project/')))
    assert.ok(found.has(key(s)), `default scan found ${key(s)}`);
});

test('exit status: --fail-on, usage errors, missing paths', () => {
  const riskOnly = path.join(root, 'risk-only.json');
  fs.writeFileSync(riskOnly, JSON.stringify({ mcpServers: { x: { url: 'http://mcp.example.net/mcp' } } }));
  assert.equal(scan([riskOnly]).status, 1);
  assert.equal(scan(['--fail-on', 'secret', riskOnly]).status, 0);
  assert.equal(scan(['--fail-on=none', 'home']).status, 0);
  assert.equal(scan(['--fail-on', 'secret', 'home']).status, 1);
  const bad = scan(['--format', 'xml', 'home']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--format: want text, json or sarif/);
  assert.equal(scan(['--bogus']).status, 2);
  assert.equal(scan(['--format']).status, 2);
  const help = scan(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /usage: gatehouse scan/);
  const top = spawnSync(GATEHOUSE_BIN, ['--help'], { encoding: 'utf8' });
  assert.match(top.stdout + top.stderr, /gatehouse scan \[--format text\|json\|sarif\]/);
  const missing = scan([path.join(root, 'no-such-file.json')]);
  assert.equal(missing.status, 2);
  assert.match(missing.stdout, /no-such-file\.json: error: cannot scan: No such file/);
  const out = path.join(root, 'report.sarif');
  assert.equal(scan(['--format', 'sarif', '--output', out, 'clean']).status, 0);
  assert.equal(JSON.parse(fs.readFileSync(out, 'utf8')).version, '2.1.0');
});

test('a file that does not parse is reported with its line, and scanning goes on', () => {
  const dir = path.join(root, 'broken');
  fs.mkdirSync(path.join(dir, '.codex'), { recursive: true });
  fs.mkdirSync(path.join(dir, '.cursor'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.mcp.json'), '{\n  "mcpServers": {\n    "a": ,\n  }\n}\n');
  fs.writeFileSync(path.join(dir, '.codex/config.toml'), '[mcp_servers.a]\ncommand = "x"\ncommand = "y"\n');
  fs.copyFileSync(path.join(root, 'home/.cursor/mcp.json'), path.join(dir, '.cursor/mcp.json'));
  const { status, report } = scanJson(['broken']);
  assert.equal(status, 1, 'findings in the good file still count');
  const errs = Object.fromEntries(report.errors.map((e) => [e.file, e]));
  assert.equal(errs['broken/.mcp.json'].line, 3);
  assert.equal(errs['broken/.codex/config.toml'].line, 3);
  assert.match(errs['broken/.codex/config.toml'].message, /duplicate key/);
  assert.ok(report.findings.some((f) => f.file === 'broken/.cursor/mcp.json' && f.rule === 'aws-access-token'));
  const text = scan(['broken']);
  assert.match(text.stdout, /broken\/\.mcp\.json:3:10: error: /);
  // only parse errors, no findings: exit 2
  fs.rmSync(path.join(dir, '.cursor'), { recursive: true });
  assert.equal(scan(['broken']).status, 2);
});

test('a repository walk skips node_modules and .git and follows no symlinks', () => {
  const repo = path.join(root, 'repo');
  for (const d of ['node_modules/pkg', '.git', 'sub/.vscode'])
    fs.mkdirSync(path.join(repo, d), { recursive: true });
  const secretFile = path.join(root, 'home/.cursor/mcp.json');
  fs.copyFileSync(secretFile, path.join(repo, 'node_modules/pkg/.mcp.json'));
  fs.copyFileSync(secretFile, path.join(repo, '.git/.mcp.json'));
  fs.symlinkSync(secretFile, path.join(repo, '.mcp.json'));
  fs.copyFileSync(path.join(root, 'clean/.vscode/mcp.json'), path.join(repo, 'sub/.vscode/mcp.json'));
  const { status, report } = scanJson(['repo']);
  assert.equal(status, 0, JSON.stringify(report));
  assert.deepEqual(report.files.map((f) => f.path), ['repo/sub/.vscode/mcp.json']);
  assert.ok(HERE);
});
