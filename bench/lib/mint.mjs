#!/usr/bin/env node
// Mints access tokens for Part D of bench/run.sh: client_credentials requests to the test IdP
// (tests/interop/idp/idp.mjs) with the client's secret from the IdP's ready line, a few requests
// in flight at a time. Every token is distinct (its own jti and iat), so the gateway has verified
// none of them before the run that presents them.
//
//   node mint.mjs READY-LINE-FILE CLIENT COUNT OUTFILE
//
// Writes one token per line to OUTFILE; exits non-zero with the IdP's answer on the first failure.
import fs from 'node:fs';

const [readyFile, client, countArg, outFile] = process.argv.slice(2);
const count = Number(countArg);
if (!readyFile || !client || !(count > 0) || !outFile) {
  process.stderr.write('usage: mint.mjs READY-LINE-FILE CLIENT COUNT OUTFILE\n');
  process.exit(2);
}
const ready = fs
  .readFileSync(readyFile, 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{"issuer"'))
  .map((l) => JSON.parse(l))[0];
const c = ready?.clients?.[client];
if (!c?.client_secret) {
  process.stderr.write(`mint: no secret for ${client} in the IdP's ready line\n`);
  process.exit(2);
}
// RFC 6749 §2.3.1: form-encode id and secret before base64.
const basic = Buffer.from(`${encodeURIComponent(client)}:${encodeURIComponent(c.client_secret)}`).toString('base64');
const IN_FLIGHT = 8;
const tokens = new Array(count);
let next = 0;

async function one(i) {
  const res = await fetch(ready.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
    body: 'grant_type=client_credentials',
    signal: AbortSignal.timeout(15000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token ${i}: HTTP ${res.status} ${text.slice(0, 200)}`);
  tokens[i] = JSON.parse(text).access_token;
}

async function worker() {
  while (next < count) await one(next++);
}

try {
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, worker));
} catch (err) {
  process.stderr.write(`mint: ${err.message}\n`);
  process.exit(1);
}
if (new Set(tokens).size !== count) {
  process.stderr.write('mint: the IdP returned the same token twice\n');
  process.exit(1);
}
fs.writeFileSync(outFile, `${tokens.join('\n')}\n`);
