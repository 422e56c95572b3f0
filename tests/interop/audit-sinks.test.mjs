// The audit sinks (src/audit/sink.c, docs/audit.md "Sinks") through the real gateway binary with
// real receivers: Debian's rsyslogd (imtcp, RFC 6587 octet counting, RFC 5424 parsing) writing the
// MSG of every message to a file, and a small OTLP/HTTP (JSON) receiver in this process. Traffic
// comes from the official SDK client against server-everything.
//
//   (a) every record of the audit file arrives at rsyslog and at the OTLP receiver, in order, the
//       record line byte for byte (syslog MSG, OTLP body.stringValue), with seq and type
//       attributes on the OTLP side;
//   (b) rsyslog stopped (by pid) while traffic goes on, started again on the same port: the
//       backlog arrives from the file spool and nothing is missing or duplicated;
//   (c) a second rsyslogd listening with TLS (certificate made for the run): the sink that
//       trusts its CA delivers every record; a sink given another CA refuses the handshake,
//       says so in the log, and delivers nothing.
//
// Every process is started on 127.0.0.1 with a free port, logged to out/<name>.log and stopped by
// pid in after hooks; the trail, the rsyslog config and its output live in a temp dir.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  DIRECT, GATEHOUSE_BIN, freePort, spawnLogged, startEverything, stop, waitFor, waitForHttp, sleep,
} from './lib/harness.mjs';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const RSYSLOG_OSSL = '/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so';

/** A self-signed certificate for 127.0.0.1 (it is its own CA), made with the openssl CLI. */
function makeCert(dir, name) {
  const key = path.join(dir, `${name}.key.pem`);
  const cert = path.join(dir, `${name}.pem`);
  const g = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1']);
  assert.equal(g.status, 0, g.stderr.toString());
  return { key, cert };
}

/** Record lines of the trail (complete lines only). */
function trailLines(file) {
  const parts = fs.readFileSync(file, 'utf8').split('\n');
  parts.pop();
  return parts;
}

const seqOf = (line) => JSON.parse(line).seq;

/** Starts rsyslogd with imtcp on 127.0.0.1:port writing each message's MSG to out; with tls
 *  ({ cert, key }), over TLS (the ossl stream driver, rsyslog-openssl). */
async function startRsyslog(dir, port, out, name, tls) {
  const wd = path.join(dir, `rs-${port}`);
  fs.mkdirSync(wd, { recursive: true });
  const conf = path.join(wd, 'rsyslog.conf');
  fs.writeFileSync(conf, [
    tls
      ? `global(workDirectory="${wd}" maxMessageSize="256k" DefaultNetstreamDriver="ossl" ` +
        `DefaultNetstreamDriverCAFile="${tls.cert}" DefaultNetstreamDriverCertFile="${tls.cert}" ` +
        `DefaultNetstreamDriverKeyFile="${tls.key}")`
      : `global(workDirectory="${wd}" maxMessageSize="256k")`,
    tls ? 'module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")'
      : 'module(load="imtcp")',
    'template(name="msgonly" type="string" string="%msg%\\n")',
    `input(type="imtcp" port="${port}" address="127.0.0.1")`,
    `*.* action(type="omfile" file="${out}" template="msgonly" flushOnTXEnd="on")`,
  ].join('\n') + '\n');
  const proc = spawnLogged(name, RSYSLOGD, ['-n', '-f', conf, '-i', path.join(wd, 'rsyslog.pid')]);
  await waitFor('rsyslog listening', () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  }), { proc, timeoutMs: 15000 });
  return proc;
}

/** MSGs rsyslog wrote (a leading space, if rsyslog keeps one, is not part of the record). */
function rsyslogLines(out) {
  if (!fs.existsSync(out)) return [];
  const parts = fs.readFileSync(out, 'utf8').split('\n');
  parts.pop();
  return parts.map((l) => l.replace(/^ /, ''));
}

async function traffic(url, n) {
  const client = new Client({ name: 'audit-sinks', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    await client.listTools();
    for (let i = 0; i < n; i++) {
      const r = await client.callTool({ name: 'echo', arguments: { message: `sink ${i} caf\u00e9` } });
      assert.match(r.content[0].text, /sink/);
    }
  } finally {
    await client.close();
  }
}

describe('audit sinks: rsyslog and an OTLP/HTTP receiver', {
  skip: (DIRECT && 'gateway-only') ||
    ((!fs.existsSync(RSYSLOGD) || !fs.existsSync(RSYSLOG_OSSL)) && 'rsyslogd or rsyslog-openssl not installed (scripts/deps.sh)'),
  timeout: 180000,
}, () => {
  let dir, ev, gw, rs, rsTls, otlp, base, audit, rsOut, rsTlsOut, syslogPort;
  const otlpRecords = []; // { seq, type, body, traceId }
  const otlpBad = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-sinks-'));
    audit = path.join(dir, 'audit.jsonl');
    rsOut = path.join(dir, 'rsyslog-out.log');
    syslogPort = await freePort();
    rs = await startRsyslog(dir, syslogPort, rsOut, 'audit-sinks-rsyslog');
    const server = makeCert(dir, 'rsyslog-tls');
    const other = makeCert(dir, 'other-ca');
    rsTlsOut = path.join(dir, 'rsyslog-tls-out.log');
    const tlsPort = await freePort();
    rsTls = await startRsyslog(dir, tlsPort, rsTlsOut, 'audit-sinks-rsyslog-tls', server);

    otlp = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        try {
          assert.equal(req.method, 'POST');
          assert.equal(req.url, '/v1/logs');
          assert.match(req.headers['content-type'], /application\/json/);
          const doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const rl = doc.resourceLogs[0];
          assert.deepEqual(rl.resource.attributes[0], { key: 'service.name', value: { stringValue: 'gatehouse' } });
          for (const lr of rl.scopeLogs[0].logRecords) {
            const attr = Object.fromEntries(lr.attributes.map((a) => [a.key, a.value]));
            assert.match(lr.timeUnixNano, /^\d+$/);
            assert.match(lr.observedTimeUnixNano, /^\d+$/);
            if (lr.traceId !== undefined) {
              assert.match(lr.traceId, /^[0-9a-f]{32}$/);
              assert.match(lr.spanId, /^[0-9a-f]{16}$/);
            }
            otlpRecords.push({
              seq: Number(attr['gatehouse.audit.seq'].intValue),
              type: attr['gatehouse.audit.type'].stringValue,
              body: lr.body.stringValue,
              traceId: lr.traceId,
            });
          }
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{}');
        } catch (err) {
          otlpBad.push(String(err));
          res.writeHead(400);
          res.end();
        }
      });
    });
    await new Promise((r) => otlp.listen(0, '127.0.0.1', r));

    ev = await startEverything('audit-sinks-everything');
    const port = await freePort();
    const cfg = path.join(dir, 'gatehouse.yaml');
    fs.writeFileSync(cfg, [
      'gateway:', '  insecure_no_auth: true', '  log_level: debug',
      'listeners:', `  - address: 127.0.0.1:${port}`,
      'upstreams:', '  - name: everything', `    url: ${ev.url}`,
      'audit:', `  path: ${audit}`,
      '  sinks:',
      '    - type: syslog', `      address: 127.0.0.1:${syslogPort}`, '      app_name: gatehouse-test',
      '    - type: otlp', `      url: http://127.0.0.1:${otlp.address().port}/v1/logs`, '      batch: 7',
      '    - type: syslog', `      address: 127.0.0.1:${tlsPort}`, '      tls: true', `      ca: file:${server.cert}`,
      '    - type: syslog', `      address: 127.0.0.1:${tlsPort}`, '      tls: true', `      ca: file:${other.cert}`,
    ].join('\n') + '\n');
    gw = spawnLogged('audit-sinks-gatehouse', GATEHOUSE_BIN, ['serve', '--config', cfg]);
    base = `http://127.0.0.1:${port}`;
    await waitForHttp(`${base}/healthz`, { okStatus: (s) => s === 200, proc: gw });
  });

  after(async () => {
    if (gw) await stop(gw);
    if (rs) await stop(rs);
    if (rsTls) await stop(rsTls);
    if (ev) await stop(ev.proc);
    if (otlp) await new Promise((r) => otlp.close(r));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until both receivers hold exactly the trail's records, then compares them. */
  async function allArrived() {
    let lines = [];
    await waitFor('every record at rsyslog and the OTLP receiver', () => {
      lines = trailLines(audit);
      return lines.length > 0 && rsyslogLines(rsOut).length >= lines.length && otlpRecords.length >= lines.length;
    }, { proc: gw, timeoutMs: 30000 });
    await sleep(300); // anything extra (a duplicate) would show up now
    lines = trailLines(audit);
    const want = lines.map(seqOf);
    const got = rsyslogLines(rsOut);
    assert.deepEqual(got.map(seqOf), want, 'rsyslog: every seq once, in order');
    assert.deepEqual(got, lines, 'rsyslog: MSG is the record line');
    assert.deepEqual(otlpRecords.map((r) => r.seq), want, 'OTLP: every seq once, in order');
    assert.deepEqual(otlpRecords.map((r) => r.body), lines, 'OTLP: body is the record line');
    assert.deepEqual(otlpRecords.map((r) => r.type), lines.map((l) => JSON.parse(l).type));
    assert.deepEqual(otlpBad, []);
    return lines;
  }

  test('every record reaches rsyslog and the OTLP receiver, in order', async () => {
    await traffic(`${base}/mcp`, 10);
    const lines = await allArrived();
    const types = new Set(lines.map((l) => JSON.parse(l).type));
    assert.ok(types.has('request.decision') && types.has('audit.start'), [...types].join(','));
    const traced = otlpRecords.filter((r) => r.traceId);
    assert.ok(traced.length > 0, 'decision records carry traceId/spanId');
    for (const r of traced) assert.equal(r.traceId, JSON.parse(r.body).trace.trace_id);
  });

  test('syslog over TLS: the sink that trusts the CA delivers every record; a wrong CA delivers nothing', async () => {
    await traffic(`${base}/mcp`, 3);
    let lines = [];
    await waitFor('every record at the TLS rsyslog', () => {
      lines = trailLines(audit);
      return lines.length > 0 && rsyslogLines(rsTlsOut).length >= lines.length;
    }, { proc: gw, timeoutMs: 30000 });
    await sleep(300);
    lines = trailLines(audit);
    const got = rsyslogLines(rsTlsOut);
    assert.deepEqual(got.map(seqOf), lines.map(seqOf), 'TLS: every seq once, in order (the wrong-CA sink added none)');
    assert.deepEqual(got, lines, 'TLS: MSG is the record line');
    assert.match(gw.log(), /sink syslog-3: .*TLS handshake failed: .*certificate/i, 'the wrong CA is named in the log');
  });

  test('rsyslog down during traffic: the backlog arrives when it is back', async () => {
    await stop(rs);
    assert.ok(!rs.alive());
    const before = trailLines(audit).length;
    await traffic(`${base}/mcp`, 15);
    await sleep(1500); // the sender retries with backoff meanwhile
    assert.ok(trailLines(audit).length > before);
    assert.ok(rsyslogLines(rsOut).length <= before, 'nothing reached a stopped rsyslog');
    rs = await startRsyslog(dir, syslogPort, rsOut, 'audit-sinks-rsyslog-2');
    await allArrived();
    assert.match(gw.log(), /sink syslog-0: .*retrying/);
    assert.equal((gw.log().match(/sink syslog-0: .*retrying/g) || []).length, 1, 'the outage is logged once');
  });
});
