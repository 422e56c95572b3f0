// Per-check comparison of two runs of the official conformance CLI (direct vs
// through the gateway), shared by ../conformance.mjs (2025 session era) and
// ../v2/conformance-2026.mjs (2026-07-28).
//
// A check's verdict is its SUCCESS / FAILURE / WARNING status. INFO entries are
// the CLI's trace notes ("Sending POST ...") and its "not applicable" marks, so
// INFO and absent both read as "not scored". A scenario passes the comparison
// only if every check id has the same verdict(s) in both runs: a check that
// passes direct but not through the gateway is a difference, and so is one that
// passes only through the gateway, one that fails or warns on one side only, or
// a scenario with no result on either side. The only exceptions are listed
// known differences, each for one exact (direct, gateway) verdict pair and with
// its reason; they are printed, never silent.

export const NOT_SCORED = 'not scored';
const VERDICTS = new Set(['SUCCESS', 'FAILURE', 'WARNING']);

/** Map<check id, verdict> for one scenario; repeated ids join their verdicts ("SUCCESS+SUCCESS"). */
export function verdicts(checks) {
  const byId = new Map();
  for (const c of checks || []) {
    if (!VERDICTS.has(c.status)) continue;
    if (!byId.has(c.id)) byId.set(c.id, []);
    byId.get(c.id).push(c.status);
  }
  return new Map([...byId].map(([id, v]) => [id, v.sort().join('+')]));
}

/** { passed, scored, failed: [ids] } of one scenario's checks. */
export function tally(checks) {
  const v = (checks || []).filter((c) => VERDICTS.has(c.status));
  return {
    passed: v.filter((c) => c.status === 'SUCCESS').length,
    scored: v.length,
    failed: v.filter((c) => c.status !== 'SUCCESS').map((c) => `${c.id} (${c.status})`),
  };
}

/**
 * Compares one gateway run with the direct run. direct/gateway: Map<scenario, checks[]>.
 * known: { 'scenario/check-id': { direct, gateway, reason } }.
 * Resolves { passed, failed, perScenario: Map<scenario, {same, differences, known, missing}>,
 * report: [lines] } with one test per scenario.
 */
export function compareRuns(kind, direct, gateway, scenarios, known = {}) {
  const perScenario = new Map();
  const report = [];
  const knownHits = [];
  const stale = [];
  let passed = 0;
  for (const s of scenarios) {
    const missing = [direct.has(s) ? null : 'direct', gateway.has(s) ? null : 'gateway'].filter(Boolean);
    const d = verdicts(direct.get(s));
    const g = verdicts(gateway.get(s));
    const differences = [];
    const hits = [];
    for (const id of new Set([...d.keys(), ...g.keys()])) {
      const dv = d.get(id) || NOT_SCORED;
      const gv = g.get(id) || NOT_SCORED;
      if (dv === gv) continue;
      const k = known[`${s}/${id}`];
      if (k && k.direct === dv && k.gateway === gv) hits.push({ id, dv, gv, reason: k.reason });
      else differences.push({ id, dv, gv });
    }
    for (const [key, k] of Object.entries(known)) {
      const at = key.indexOf('/');
      const id = key.slice(at + 1);
      if (key.slice(0, at) !== s || hits.some((h) => h.id === id) || differences.some((x) => x.id === id)) continue;
      stale.push(`${key} (listed as ${k.direct} direct, ${k.gateway} through the gateway; now ${d.get(id) || NOT_SCORED} both)`);
    }
    const same = !missing.length && !differences.length;
    perScenario.set(s, { same, differences, known: hits, missing });
    for (const h of hits) knownHits.push({ key: `${s}/${h.id}`, ...h });
    if (same) passed++;
    else {
      if (!report.length) report.push(`\ndifferences direct vs through the gateway (${kind}):`);
      if (missing.length) report.push(`  ${s}: no result ${missing.join(' and ')}`);
      for (const x of differences) report.push(`  ${s}/${x.id}: direct ${x.dv}, gateway ${x.gv}`);
    }
  }
  if (knownHits.length) {
    report.push(`\nknown differences (${kind}), each with its reason, counted as same:`);
    for (const k of knownHits) report.push(`  ${k.key}: direct ${k.dv}, gateway ${k.gv}: ${k.reason}`);
  }
  for (const x of stale) report.push(`  note: known difference ${x} no longer differs (${kind}): remove it from the list`);
  return { passed, failed: scenarios.length - passed, perScenario, report };
}

/**
 * A markdown table, one row per scenario: passed/scored checks per run and whether
 * each gateway run equals direct. runs: [{ label, results, cmp }] where cmp is the
 * compareRuns() answer for that run (absent for the direct run).
 */
export function markdownTable(scenarios, runs) {
  const head = ['scenario', ...runs.map((r) => r.label), ...runs.filter((r) => r.cmp).map((r) => `${r.label} = direct`)];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  const cell = (checks) => {
    if (!checks) return 'no result';
    const t = tally(checks);
    return `${t.passed}/${t.scored}${t.failed.length ? ` (not passed: ${t.failed.join(', ')})` : ''}`;
  };
  const same = (c) => {
    if (!c) return 'no result';
    if (!c.same) return `**no**: ${[...c.missing.map((m) => `no ${m} result`), ...c.differences.map((x) => `${x.id} ${x.dv} vs ${x.gv}`)].join('; ')}`;
    return c.known.length ? `yes, known: ${c.known.map((k) => `${k.id} (${k.dv} vs ${k.gv})`).join(', ')}` : 'yes';
  };
  for (const s of scenarios) {
    lines.push(`| ${[`\`${s}\``, ...runs.map((r) => cell(r.results.get(s))), ...runs.filter((r) => r.cmp).map((r) => same(r.cmp.perScenario.get(s)))].join(' | ')} |`);
  }
  const total = (r) => {
    let p = 0;
    let n = 0;
    for (const s of scenarios) {
      const t = tally(r.results.get(s));
      p += t.passed;
      n += t.scored;
    }
    return `**${p}/${n}**`;
  };
  const totSame = (r) => `**${r.cmp.passed}/${scenarios.length}**`;
  lines.push(`| **all ${scenarios.length}** | ${[...runs.map(total), ...runs.filter((r) => r.cmp).map(totSame)].join(' | ')} |`);
  return lines.join('\n');
}
