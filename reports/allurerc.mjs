// Allure Report 3 configuration of the gonogo release gate. `python -m gonogo.report` (./run report)
// renders and gates with it; it reads what the last run wrote beside its verdict file:
//   GONOGO_GATE_FILE          gate.json: the report's name carries the verdict, environment and version
//   GONOGO_QUALITY_GATE_FILE  quality-gate.json: the rules `allure quality-gate` judges the results with,
//                             generated from the same profile as gate.json (see gonogo/quality_gate.py)
//   GONOGO_HISTORY_DIR        one history file per environment (history/<env>.jsonl): the trend
//   GONOGO_SINGLE_FILE=1      the single-file variant (one HTML file to attach to a release ticket)
// Checks are grouped by phase (epic), subject (feature) and check (story); the verdict is the first result.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const readJson = (path) => (path && existsSync(path) ? JSON.parse(readFileSync(path, "utf-8")) : undefined);
const gateFile = process.env.GONOGO_GATE_FILE ?? join(process.cwd(), "gate.json");
const gate = readJson(gateFile);
const gateRules = readJson(process.env.GONOGO_QUALITY_GATE_FILE ?? join(dirname(gateFile), "quality-gate.json"));
const environment = gate?.environment?.name ?? gateRules?.environment ?? "default";
const historyDir = process.env.GONOGO_HISTORY_DIR ?? join(dirname(gateFile), "history");
const singleFile = process.env.GONOGO_SINGLE_FILE === "1";
const name = gate
  ? `${gate.verdict} · ${environment} · release ${gate.target_version ?? "not set"}`
  : "gonogo release gate (no verdict file)";

// ---- the quality gate: gonogo's rules, read from the results ------------------------------------
const VERDICT_TAG = "gonogo:verdict";
const tagsOf = (tr) => (tr.labels ?? []).filter((l) => l.name === "tag").map((l) => l.value ?? "");
const storyOf = (tr) => (tr.labels ?? []).find((l) => l.name === "story")?.value ?? tr.name;
const tagValue = (tr, prefix, fallback) => tagsOf(tr).find((t) => t.startsWith(prefix))?.slice(prefix.length) ?? fallback;
const severityOf = (tr) => tagValue(tr, "gonogo-severity:", "critical");
const skipKindOf = (tr) => tagValue(tr, "gonogo-status:", "skipped");
const checksOf = (trs) => trs.filter((tr) => !tagsOf(tr).includes(VERDICT_TAG));
const judged = (tr) => ["passed", "failed", "broken"].includes(tr.status);
const listed = (values) => (values.length ? values.join(", ") : "none");

const rule = (ruleName, validate, message, successMessage) => ({ rule: ruleName, validate, message, successMessage });

// a run-level problem (collection error, partial run, interruption): Allure has no result for it
const runRule = rule("gonogoRun",
  async ({ expected }) => ({ success: expected.length === 0, actual: expected, testResults: [] }),
  ({ actual }) => `the run itself is a NO-GO: ${listed(actual)}`,
  () => "the run itself has no problem (no collection error, whole phases, not interrupted)");

// every selected check has a result, and at least one ran to a judgement
const allRanRule = rule("gonogoAllRan",
  async ({ trs, expected }) => {
    const checks = checksOf(trs);
    const seen = new Set(checks.map(storyOf));
    const absent = expected.filter((id) => !seen.has(id));
    const ran = checks.filter(judged).length;
    return { success: expected.length > 0 && absent.length === 0 && ran > 0,
      actual: expected.length === 0 || ran === 0 ? ["no checks ran"] : absent, testResults: [] };
  },
  ({ actual }) => `selected checks without a result: ${listed(actual)}`,
  () => "every selected check has a result");

// a blocker or critical check that failed (unwaived), errored or did not run
const blockingRule = rule("gonogoBlocking",
  async ({ trs, expected }) => {
    const checks = checksOf(trs);
    // a dependent skip counts only where gonogo's gate found that the check it names failed in the run
    const notRun = (tr) => tr.status === "unknown" || (tr.status === "skipped"
      && (skipKindOf(tr) === "skipped" || (skipKindOf(tr) === "dependent" && !expected.dependentOk.includes(storyOf(tr)))));
    const blocking = checks.filter((tr) => expected.severities.includes(severityOf(tr)) && (tr.status === "broken"
      || (tr.status === "failed" && !(storyOf(tr) in expected.waived)) || notRun(tr)));
    return { success: blocking.length === 0, actual: blocking.map((tr) => `${storyOf(tr)} ${tr.status}`),
      testResults: blocking.map((tr) => tr.id) };
  },
  ({ actual }) => `blocker or critical checks failed, errored or did not run: ${listed(actual)}`,
  () => "no blocker or critical check failed, errored or was left unrun");

// each [gate] required entry: its checks ran to a judgement (errored or not run is missing)
const requiredRule = rule("gonogoRequired",
  async ({ trs, expected }) => {
    // several runs merged: a check judged in any of them counts (its best result)
    const rank = (tr) => ["passed", "failed"].includes(tr.status) ? 0 : 1;
    const byStory = new Map();
    for (const tr of checksOf(trs)) {
      const seen = byStory.get(storyOf(tr));
      if (!seen || rank(tr) < rank(seen)) byStory.set(storyOf(tr), tr);
    }
    const missing = [];
    for (const entry of expected) {
      const results = entry.checks.map((id) => [id, byStory.get(id)]);
      const applicable = results.filter(([, tr]) => !(tr?.status === "skipped" && skipKindOf(tr) === "not-applicable"));
      if (entry.checks.length === 0 || applicable.length === 0) {
        missing.push(`${entry.selector} (${entry.checks.length ? "not applicable" : "matches no check"})`);
      }
      for (const [id, tr] of applicable) {
        if (!tr || !["passed", "failed"].includes(tr.status)) {
          missing.push(`${entry.selector}: ${id} ${tr ? (tr.status === "skipped" ? skipKindOf(tr) : tr.status) : "not run"}`);
        }
      }
    }
    return { success: missing.length === 0, actual: missing, testResults: [] };
  },
  ({ actual }) => `required checks missing: ${listed(actual)}`,
  () => "every required check ran to a judgement");

const qualityGate = gateRules && {
  use: [runRule, allRanRule, blockingRule, requiredRule],
  rules: [{
    id: "gonogo",
    gonogoRun: gateRules.run_problems,
    gonogoAllRan: gateRules.selected,
    gonogoBlocking: { severities: gateRules.blocking_severities, waived: gateRules.waived,
      dependentOk: gateRules.dependent_ok ?? [] },
    gonogoRequired: gateRules.required,
  }],
};

// ---- categories: what kind of failure --------------------------------------------------------------
const failing = ["failed", "broken"];
const categories = {
  rules: [
    { id: "gonogo-verdict", name: "Release verdict", matchers: { labels: { tag: `^${VERDICT_TAG}$` } } },
    { id: "infrastructure", name: "Infrastructure unreachable (refused, timeout, DNS)", matchers: { statuses: failing,
      message: /refused|timed? ?out|timeout|unreachable|no route to host|name or service not known|name resolution|nxdomain|\bdns\b|could not (connect|resolve)|connection (reset|aborted)|no answer/i } },
    { id: "configuration", name: "Configuration (not configured, profile error)", matchers: [
      { labels: { tag: "^gonogo-status:not-configured$" } },
      { statuses: failing, message: /not configured|usage error|profile|environments\/.*\.toml/i }] },
    { id: "retries", name: "Passed only after retries", matchers: { labels: { tag: "^gonogo:passed-after-retries$" } } },
    { id: "application", name: "Application misbehaves (a judgement of what it answered failed)", matchers: { statuses: ["failed"] } },
    { id: "could-not-judge", name: "Could not judge (the check errored)", matchers: { statuses: ["broken"] } },
    { id: "did-not-run", name: "Did not run", matchers: { labels: { tag: "^gonogo-status:(skipped|dependent)$" } } },
  ],
};

export default {
  name,
  output: "./allure-report",
  historyPath: join(historyDir, `${environment}.jsonl`),
  appendHistory: !singleFile,
  categories,
  ...(qualityGate ? { qualityGate } : {}),
  plugins: {
    awesome: {
      options: {
        reportName: name,
        singleFile,
        groupBy: ["epic", "feature", "story"],
      },
    },
  },
};
