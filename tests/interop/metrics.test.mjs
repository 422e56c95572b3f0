// /metrics: the Prometheus text exposition of a real `gatehouse dev`, parsed by a Prometheus
// text-format parser (parse-prometheus-text-format, pinned in package-lock.json) after real
// traffic from the official SDK client and a refused token.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { DIRECT, startGatehouseDev, stop } from './lib/harness.mjs';

describe('/metrics', { skip: DIRECT ? 'direct mode: gateway-only suite' : false }, () => {
  let gw;
  before(async () => { gw = await startGatehouseDev('gatehouse-metrics'); }, { timeout: 30000 });
  after(async () => { await stop(gw?.proc); });

  const scrape = async () => {
    const r = await fetch(new URL('/metrics', gw.url));
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    const families = parsePrometheusTextFormat(text); // throws on a malformed exposition
    return { text, byName: Object.fromEntries(families.map((f) => [f.name, f])) };
  };
  const value = (fam, labels = {}) => {
    const m = fam.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
    return m ? Number(m.value) : undefined;
  };

  test('counters, histograms and audit gauges follow real traffic', { timeout: 30000 }, async () => {
    const before0 = await scrape();
    const client = new Client({ name: 'metrics-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), {
      requestInit: { headers: { Authorization: `Bearer ${gw.token}` } },
    }));
    await client.listTools();
    await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    await client.close();
    const bad = await fetch(gw.url, { method: 'POST', body: '{}',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream',
        authorization: 'Bearer not-a-token' } });
    assert.equal(bad.status, 401);

    const { text, byName } = await scrape();
    for (const name of ['gatehouse_requests_total', 'gatehouse_decisions_total', 'gatehouse_auth_failures_total',
      'gatehouse_limited_total', 'gatehouse_request_duration_seconds', 'gatehouse_audit_records_total',
      'gatehouse_audit_queue_depth', 'gatehouse_audit_written_total', 'gatehouse_audit_write_errors']) {
      assert.ok(byName[name], `${name} exposed`);
    }
    assert.equal(byName.gatehouse_requests_total.type, 'COUNTER');
    assert.equal(byName.gatehouse_request_duration_seconds.type, 'HISTOGRAM');
    assert.equal(byName.gatehouse_audit_queue_depth.type, 'GAUGE');
    const reqs = value(byName.gatehouse_requests_total) - value(before0.byName.gatehouse_requests_total);
    assert.ok(reqs >= 3, `initialize, tools/list, tools/call counted (got ${reqs})`);
    assert.ok(value(byName.gatehouse_decisions_total, { effect: 'allow' }) >= 3);
    assert.equal(value(byName.gatehouse_auth_failures_total, { status: '401' }) -
      value(before0.byName.gatehouse_auth_failures_total, { status: '401' }), 1);
    // the histogram of the demo upstream: cumulative buckets, +Inf == count
    // (the parser keeps a histogram's buckets but not its other labels: dev has one upstream)
    assert.equal(byName.gatehouse_request_duration_seconds.metrics.length, 1);
    const h = byName.gatehouse_request_duration_seconds.metrics[0];
    assert.ok(h && h.buckets, 'a histogram for the demo upstream');
    const les = Object.keys(h.buckets).map(Number).filter(Number.isFinite).sort((a, b) => a - b);
    let last = 0;
    for (const le of les) {
      const v = Number(h.buckets[String(le)]);
      assert.ok(v >= last, 'buckets are cumulative');
      last = v;
    }
    const inf = Number(h.buckets['+Inf']);
    assert.ok(inf >= reqs && inf >= last, '+Inf holds every observation');
    // the parser drops a labelled histogram's _sum and _count: read them from the text
    const count = Number(/gatehouse_request_duration_seconds_count\{upstream="demo"\} (\d+)/.exec(text)?.[1]);
    const sum = Number(/gatehouse_request_duration_seconds_sum\{upstream="demo"\} ([0-9.]+)/.exec(text)?.[1]);
    assert.equal(count, inf, '_count == the +Inf bucket');
    assert.ok(sum > 0);
    // the trail: gatehouse dev writes one; records were queued and written
    assert.ok(value(byName.gatehouse_audit_records_total) >= 2 * reqs);
    assert.equal(value(byName.gatehouse_audit_write_errors), 0);
  });

  test('no label value comes from request data', async () => {
    await fetch(gw.url + '?x="}evil', { method: 'POST', body: '{}', headers: { 'user-agent': 'a"b}c' } });
    const { text } = await scrape();
    assert.match(text, /gatehouse_request_duration_seconds_count\{upstream="demo"\} \d+/);
    assert.ok(!text.includes('evil') && !text.includes('a"b'), 'request bytes never reach /metrics');
  });
});
