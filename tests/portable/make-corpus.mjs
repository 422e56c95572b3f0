#!/usr/bin/env node
// tests/portable/make-corpus.mjs: turns the client-config templates under corpus/ into real files
// with freshly generated secrets of each provider's shape, so no secret is ever committed.
//
// Usage:  node make-corpus.mjs OUTDIR         (prints the manifest path)
//         import { makeCorpus } from './make-corpus.mjs'; const m = makeCorpus(outDir);
//
// Templates: corpus/**/NAME.tmpl is written as OUTDIR/**/NAME (same relative path, ".tmpl" dropped).
// corpus/home/ is laid out like a user's home directory (use OUTDIR/home as a fake $HOME);
// corpus/clean/ holds files with references and placeholders only (a scan must find nothing).
// Markers inside templates:
//   @@gen:SHAPE@@        a fresh value of SHAPE, escaped for a JSON / TOML basic / YAML double-quoted
//                        string (backslash, quote and newline escaped)
//   @@raw:SHAPE@@        the same, unescaped (TOML ''' literal strings, YAML plain scalars)
//   @@gen:SHAPE=RULE@@   as @@gen:SHAPE@@, but the scanner rule expected to find it is RULE
// Everything else in a template (placeholders such as "<YOUR_TOKEN>", "${env:FOO}") is literal.
//
// Manifest (OUTDIR/manifest.json), the contract the scan / import / migrate tests rely on:
//   { "root": OUTDIR,
//     "secrets": [ { "file": "home/.cursor/mcp.json",   // relative to root, "/" separated
//                    "line": 12,                          // 1-based line where the value starts
//                    "rule": "aws-access-token",          // scanner rule id expected to report it
//                    "shape": "aws-access-token",         // generator used
//                    "value": "AKIA..." } ],              // the full generated secret (never commit)
//     "risks":   [ { "file": "...", "line": 7, "rule": "mcp-auto-approve" } ],
//     "files":   [ "home/.claude.json", ... ] }          // every file written: the client
//                                                         // configs, and home/project/.env
//                                                         // (a dotenv file .vscode/mcp.json
//                                                         // names with envFile)
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CORPUS = path.join(HERE, 'corpus');

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const WORD = ALNUM + '_';
const URLSAFE = ALNUM + '_-';
const B64 = ALNUM + '+/';

/** n characters drawn uniformly from the alphabet (rejection sampling: no modulo bias). */
export function rand(alphabet, n) {
  let out = '';
  while (out.length < n) {
    for (const b of crypto.randomBytes(n * 2)) {
      if (b < 256 - (256 % alphabet.length)) out += alphabet[b % alphabet.length];
      if (out.length === n) break;
    }
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32(s) {
  let c = 0xffffffff;
  for (const b of Buffer.from(s)) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** GitHub's token format: 30 random base62 characters, then the CRC32 of them in 6 base62 digits. */
function githubToken(prefix) {
  const body = rand(ALNUM, 30);
  let n = crc32(body);
  let tail = '';
  for (let i = 0; i < 6; i++) {
    tail = ALNUM[n % 62] + tail;
    n = Math.floor(n / 62);
  }
  return `${prefix}_${body}${tail}`;
}

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

function pemBody(bytes) {
  return crypto.randomBytes(bytes).toString('base64').match(/.{1,64}/g).join('\n');
}

/** Shape name -> [generator, scanner rule id]. */
export const SHAPES = {
  'github-pat': [() => githubToken('ghp'), 'github-pat'],
  'github-oauth': [() => githubToken('gho'), 'github-oauth'],
  'github-app-token': [() => githubToken('ghs'), 'github-app-token'],
  'github-refresh-token': [() => githubToken('ghr'), 'github-refresh-token'],
  'github-fine-grained-pat': [
    () => `github_pat_${rand(ALNUM, 22)}_${rand(ALNUM, 59)}`,
    'github-fine-grained-pat',
  ],
  'gitlab-pat': [() => `glpat-${rand(URLSAFE, 20)}`, 'gitlab-pat'],
  'slack-bot-token': [
    () => `xoxb-${rand(DIGITS, 12)}-${rand(DIGITS, 13)}-${rand(ALNUM, 24)}`,
    'slack-bot-token',
  ],
  'slack-user-token': [
    () =>
      `xoxp-${rand(DIGITS, 12)}-${rand(DIGITS, 12)}-${rand(DIGITS, 13)}-${rand('0123456789abcdef', 32)}`,
    'slack-user-token',
  ],
  'slack-app-token': [
    () => `xapp-1-A${rand(UPPER + DIGITS, 10)}-${rand(DIGITS, 13)}-${rand('0123456789abcdef', 64)}`,
    'slack-app-token',
  ],
  'slack-webhook-url': [
    () =>
      `https://hooks.slack.com/services/T${rand(UPPER + DIGITS, 8)}/B${rand(UPPER + DIGITS, 10)}/${rand(ALNUM, 24)}`,
    'slack-webhook-url',
  ],
  'openai-api-key': [
    () => `sk-proj-${rand(URLSAFE, 74)}T3BlbkFJ${rand(URLSAFE, 74)}`,
    'openai-api-key',
  ],
  'openai-legacy-key': [() => `sk-${rand(ALNUM, 20)}T3BlbkFJ${rand(ALNUM, 20)}`, 'openai-api-key'],
  'anthropic-api-key': [() => `sk-ant-api03-${rand(URLSAFE, 93)}AA`, 'anthropic-api-key'],
  'anthropic-admin-api-key': [
    () => `sk-ant-admin01-${rand(URLSAFE, 93)}AA`,
    'anthropic-admin-api-key',
  ],
  'aws-access-token': [() => `AKIA${rand(B32, 16)}`, 'aws-access-token'],
  'aws-secret-access-key': [() => rand(B64, 40), 'aws-secret-access-key'],
  'stripe-access-token': [() => `sk_live_${rand(ALNUM, 99)}`, 'stripe-access-token'],
  'stripe-restricted-key': [() => `rk_live_${rand(ALNUM, 99)}`, 'stripe-access-token'],
  'gcp-api-key': [() => `AIza${rand(URLSAFE, 35)}`, 'gcp-api-key'],
  'gcp-service-account': [
    () => {
      const project = `proj-${rand(LOWER, 6)}`;
      return JSON.stringify({
        type: 'service_account',
        project_id: project,
        private_key_id: rand('0123456789abcdef', 40),
        private_key: `-----BEGIN PRIVATE KEY-----\n${pemBody(900)}\n-----END PRIVATE KEY-----\n`,
        client_email: `mcp@${project}.iam.gserviceaccount.com`,
        client_id: rand(DIGITS, 21),
      });
    },
    'gcp-service-account',
  ],
  'huggingface-access-token': [() => `hf_${rand(UPPER + LOWER, 34)}`, 'huggingface-access-token'],
  'npm-access-token': [() => `npm_${rand(LOWER + DIGITS, 36)}`, 'npm-access-token'],
  jwt: [
    () => {
      const hdr = b64url({ alg: 'HS256', typ: 'JWT' });
      const now = Math.floor(Date.now() / 1000);
      const body = b64url({ sub: rand(ALNUM, 16), iat: now, exp: now + 3600, aud: 'mcp' });
      return `${hdr}.${body}.${crypto.randomBytes(32).toString('base64url')}`;
    },
    'jwt',
  ],
  'private-key': [
    () => `-----BEGIN RSA PRIVATE KEY-----\n${pemBody(600)}\n-----END RSA PRIVATE KEY-----\n`,
    'private-key',
  ],
  'generic-api-key': [() => rand(ALNUM, 32), 'generic-api-key'],
};

/** Shannon entropy in bits per character, as the scanner (and gitleaks) compute it. */
export function entropy(s) {
  const counts = new Map();
  for (const ch of Buffer.from(s)) counts.set(ch, (counts.get(ch) || 0) + 1);
  let h = 0;
  for (const c of counts.values()) h -= (c / s.length) * Math.log2(c / s.length);
  return h;
}

// Rules skip low-entropy matches (gitleaks' entropy field: 3 for most providers, 4 for GCP keys,
// 4.0 for unnamed generic values). A random token falls below that only rarely, but often
// enough to make a test flaky, so values are drawn again until they clear it.
const MIN_ENTROPY = { 'gcp-api-key': 4.2, 'generic-api-key': 4.2 };

/** A fresh value of the shape. */
export function generate(shapeName) {
  const [gen] = SHAPES[shapeName];
  for (;;) {
    const v = gen();
    // unnamed generic values (a key in a URL path) must hold letters and digits both
    const mixed = shapeName !== 'generic-api-key' || (/[0-9]/.test(v) && /[A-Za-z]/.test(v));
    if (mixed && entropy(v) >= (MIN_ENTROPY[shapeName] ?? 3.2)) return v;
  }
}

/** Risky settings planted in the templates: [file, rule, a string on the line to report]. */
export const RISKS = [
  ['home/Library/Application Support/Claude/claude_desktop_config.json', 'mcp-unpinned-package', '"@modelcontextprotocol/server-github"'],
  ['home/.config/Claude/claude_desktop_config.json', 'mcp-unpinned-package', '"mcp/postgres"'],
  ['home/.claude.json', 'mcp-unpinned-package', '"openai-mcp-tools"'],
  ['home/.claude/settings.json', 'mcp-auto-approve', '"enableAllProjectMcpServers"'],
  ['home/project/.mcp.json', 'mcp-plain-http', 'http://tools.corp.example.com'],
  ['home/.cursor/mcp.json', 'mcp-unpinned-package', 'awslabs.aws-api-mcp-server@latest'],
  ['home/.codex/config.toml', 'mcp-trust-flag', 'approval_policy'],
  ['home/.codex/config.toml', 'mcp-unpinned-package', '"ghcr.io/github/github-mcp-server"'],
  ['home/.gemini/settings.json', 'mcp-trust-flag', '"trust": true'],
  ['home/.continue/mcpServers/sqlite.yaml', 'mcp-unpinned-package', '- mcp-server-sqlite'],
  ['home/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json', 'mcp-auto-approve', '"alwaysAllow"'],
  ['home/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json', 'mcp-auto-approve', '"list_workspaces"'],
];

const escape = (v) => JSON.stringify(v).slice(1, -1);
const lineAt = (text, offset) => text.slice(0, offset).split('\n').length;

function templates(dir, rel = '') {
  const out = [];
  for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...templates(dir, r));
    else if (e.name.endsWith('.tmpl')) out.push(r);
  }
  return out.sort();
}

/** Fills one template; returns the text and the secrets planted in it. */
function fill(tmpl, file) {
  const secrets = [];
  let text = '';
  let last = 0;
  for (const m of tmpl.matchAll(/@@(gen|raw):([a-z0-9-]+)(?:=([a-z0-9-]+))?@@/g)) {
    const shape = SHAPES[m[2]];
    if (!shape) throw new Error(`${file}: unknown shape ${m[2]}`);
    const value = generate(m[2]);
    text += tmpl.slice(last, m.index);
    secrets.push({ file, line: lineAt(text, text.length), rule: m[3] || shape[1], shape: m[2], value });
    text += m[1] === 'gen' ? escape(value) : value;
    last = m.index + m[0].length;
  }
  return { text: text + tmpl.slice(last), secrets };
}

/** Writes the corpus under outDir and returns the manifest (also written as manifest.json). */
export function makeCorpus(outDir) {
  const manifest = { root: path.resolve(outDir), secrets: [], risks: [], files: [] };
  for (const t of templates(CORPUS)) {
    const file = t.slice(0, -'.tmpl'.length);
    const { text, secrets } = fill(fs.readFileSync(path.join(CORPUS, t), 'utf8'), file);
    const dest = path.join(outDir, file);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, text, { mode: 0o600 });
    manifest.files.push(file);
    manifest.secrets.push(...secrets);
    for (const [rf, rule, anchor] of RISKS) {
      if (rf !== file) continue;
      const at = text.indexOf(anchor);
      if (at < 0) throw new Error(`${file}: risk anchor ${anchor} not found`);
      manifest.risks.push({ file, line: lineAt(text, at), rule });
    }
  }
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return manifest;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2];
  if (!out) {
    console.error('usage: node make-corpus.mjs OUTDIR');
    process.exit(2);
  }
  const m = makeCorpus(out);
  console.log(`${path.join(out, 'manifest.json')}: ${m.files.length} files, ${m.secrets.length} secrets, ${m.risks.length} risks`);
}
