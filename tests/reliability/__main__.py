"""``python -m tests.reliability`` (``make reliability``): faults, soak, fuzz, then docs/reliability.md.

1. The scripted fault tests of this folder (pytest, each on its own private stack).
2. The soak: the whole stack on embedded servers (router, api, one worker, fake upstream), mixed job
   traffic (create, two JSON calls, one streamed call, complete) started at a fixed rate for
   ``--duration`` seconds; throughput, error rate, p50/p99 per endpoint, RSS of every process at
   start and end, aggregation lag, and the reconciliation of router spend against api llm_calls.
3. The schema fuzzing of ``tests/fuzz`` with more examples per operation (``TOLLGATE_FUZZ_EXAMPLES``).

The figures replace the generated section of docs/reliability.md (between its markers); the JSON
lands in ``tests/reliability/results/``. Exit code 0 only when every step held.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tests.reliability import checks
from tests.reliability.stack import REPO, Stack, running_stack
from tests.reliability.traffic import Traffic, drive, make_client

DOC = REPO / "docs" / "reliability.md"
RESULTS = REPO / "tests" / "reliability" / "results"
START = "<!-- reliability:figures:start -->"
END = "<!-- reliability:figures:end -->"
MIB = 1024 * 1024


def run_faults(junit: Path) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "tests/reliability", "-p", "no:cacheprovider", "-q",
         f"--junitxml={junit}", "-o", "junit_family=xunit1"],
        cwd=REPO,
    )  # fmt: skip
    try:
        returncode = proc.wait()
    except KeyboardInterrupt:  # Ctrl-C reached pytest too: let it stop its stacks, then leave
        proc.wait(60)
        raise
    cases = []
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            failed = case.find("failure") is not None or case.find("error") is not None
            skipped = case.find("skipped") is not None
            cases.append(
                {
                    "name": f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}",
                    "seconds": round(float(case.get("time", "0")), 1),
                    "outcome": "failed" if failed else "skipped" if skipped else "passed",
                }
            )
    return {"exit_code": returncode, "seconds": round(time.monotonic() - started), "cases": cases}


def run_fuzz(examples: int, *, budget_s: float) -> dict[str, Any] | None:
    """``tests/fuzz`` with ``examples`` per operation, cut (and reported so) at ``budget_s``."""
    if not (REPO / "tests" / "fuzz").is_dir():
        return None
    started = time.monotonic()
    env = {**os.environ, "TOLLGATE_FUZZ_EXAMPLES": str(examples)}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "tests/fuzz", "-p", "no:cacheprovider", "-q", "--timeout=900"],
            cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=max(30.0, budget_s),
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return {
            "examples_per_operation": examples,
            "exit_code": -1,
            "summary": f"stopped at the time budget ({budget_s:.0f} s)",
            "seconds": round(time.monotonic() - started),
            "tail": "",
        }
    summary = next(
        (line for line in reversed(done.stdout.splitlines()) if " passed" in line or " failed" in line), ""
    )
    return {
        "examples_per_operation": examples,
        "exit_code": done.returncode,
        "summary": summary.strip("= "),
        "seconds": round(time.monotonic() - started),
        "tail": done.stdout[-3000:] if done.returncode else "",
    }


async def _soak_traffic(
    stack: Stack, *, rate: float, duration: float
) -> tuple[Traffic, list[dict[str, int]]]:
    assert stack.team is not None
    traffic = Traffic()
    samples: list[dict[str, int]] = []
    stop = asyncio.Event()

    async def sample_rss() -> None:
        while not stop.is_set():
            samples.append(stack.rss())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 10)

    sampler = asyncio.create_task(sample_rss())
    async with make_client(stack.api_url, stack.team.headers) as client:
        await drive(client, traffic, rate_per_s=rate, duration_s=duration, max_in_flight=64)
    stop.set()
    await sampler
    return traffic, samples


def _aggregation_lag(stack: Stack) -> dict[str, float]:
    with stack.connect() as conn:
        row = conn.execute(
            """SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag), percentile_cont(0.99) WITHIN GROUP
                      (ORDER BY lag), max(lag)
                 FROM (SELECT extract(epoch FROM c.computed_at - j.completed_at) AS lag
                         FROM api.job_costs c JOIN api.jobs j ON j.id = c.job_id) lags"""
        ).fetchone()
    values = [round(float(v or 0), 3) for v in (row or (0, 0, 0))]
    return {"p50_s": values[0], "p99_s": values[1], "max_s": values[2]}


def _product_reconciliation(stack: Stack) -> dict[str, Any] | None:
    """H2's reconciliation service over today (UTC), through the admin API, when it exists."""
    answer = stack.admin("POST", "/admin/reconciliation/runs", {})
    if answer.status_code in (404, 405):
        return None
    if answer.status_code != 200:
        return {"error": f"{answer.status_code}: {answer.text[:300]}"}
    body = answer.json()
    run = body.get("run", {})
    return {
        "status": run.get("status"),
        "keys_checked": run.get("keys_checked"),
        "drifted": run.get("drifted"),
        "total_abs_drift_micro_usd": run.get("total_abs_drift_micro_usd"),
    }


def run_soak(*, duration: float, rate: float) -> dict[str, Any]:
    with running_stack() as stack:
        rss_start = stack.rss()
        started = time.monotonic()
        traffic, rss_samples = asyncio.run(_soak_traffic(stack, rate=rate, duration=duration))
        elapsed = time.monotonic() - started
        rss_end = stack.rss()
        with stack.connect() as conn:
            aggregated_in = checks.wait_aggregated(conn, timeout_s=120)
            time.sleep(1.0)  # the router's spend log flushes every 250 ms
            problems = {
                "acknowledged": checks.acknowledged_problems(conn, traffic),
                "ledger": checks.ledger_problems(conn),
                "job_costs": checks.cost_mismatches(conn),
                "rollups": checks.rollup_mismatches(stack.database_url),
            }
            reconciliation = checks.reconciliation(conn)
        summary = traffic.summary()
        peak = {name: max(s.get(name, 0) for s in [rss_start, *rss_samples, rss_end]) for name in rss_start}
        return {
            "duration_s": round(elapsed, 1),
            "rate_flows_per_s": rate,
            "throughput_req_per_s": round(summary["requests"] / elapsed, 1),
            "throughput_jobs_per_s": round(summary["jobs_completed"] / elapsed, 2),
            **summary,
            "rss_mib": {
                name: {
                    "start": round(rss_start[name] / MIB, 1),
                    "end": round(rss_end.get(name, 0) / MIB, 1),
                    "peak": round(peak[name] / MIB, 1),
                }
                for name in rss_start
            },
            "aggregation_lag": _aggregation_lag(stack),
            "aggregated_after_load_s": round(aggregated_in, 1),
            "problems": {k: v[:20] for k, v in problems.items()},
            "problem_counts": {k: len(v) for k, v in problems.items()},
            "reconciliation": reconciliation,
            "product_reconciliation": _product_reconciliation(stack),
        }


def render(report: dict[str, Any]) -> str:
    lines = [
        START,
        "",
        f"Generated by `python -m tests.reliability` (`make reliability`) on {report['machine']}; each "
        "section says when it ran (a step skipped with `--skip-*` keeps its previous figures). The "
        "machine's cores were shared with the load generator, the fake provider, Postgres, Redis and "
        "other work running at the time (each section gives the 1-minute load average when it "
        "ended), so latencies are upper bounds.",
        "",
    ]
    faults = report.get("faults")
    if faults:
        passed = sum(1 for c in faults["cases"] if c["outcome"] == "passed")
        lines += [
            f"### Faults: {passed} of {len(faults['cases'])} passed "
            f"({faults['seconds']} s, {faults.get('at')})",
            "",
            "| case | outcome | seconds |",
            "|---|---|---|",
        ]
        lines += [f"| `{c['name']}` | {c['outcome']} | {c['seconds']} |" for c in faults["cases"]]
        lines.append("")
    soak = report.get("soak")
    if soak:
        lost = sum(soak["problem_counts"].values())
        recon = soak["reconciliation"]
        lines += [
            f"### Soak: {soak['duration_s']} s at {soak['rate_flows_per_s']} job flows/s ({soak.get('at')})",
            "",
            "| figure | value |",
            "|---|---|",
            f"| requests | {soak['requests']} ({soak['throughput_req_per_s']} req/s) |",
            f"| jobs completed | {soak['jobs_completed']} ({soak['throughput_jobs_per_s']} jobs/s) |",
            f"| error rate | {soak['error_rate'] * 100:.3f} % ({soak['errors']} errors) |",
            f"| acknowledged calls | {soak['calls_acknowledged']} |",
            f"| aggregation lag (complete → job_costs) | p50 {soak['aggregation_lag']['p50_s']} s, "
            f"p99 {soak['aggregation_lag']['p99_s']} s, max {soak['aggregation_lag']['max_s']} s |",
            f"| data lost or duplicated | {lost} |",
            f"| reconciliation (router spend log vs api llm_calls) | "
            f"{'exact' if recon['exact'] else 'DRIFT'}: "
            f"{recon['router_calls']} vs {recon['api_calls']} calls, "
            f"{recon['router_micro_usd']} vs {recon['api_micro_usd']} micro-USD, drift "
            f"{recon['drift_micro_usd']} |",
        ]
        product = soak.get("product_reconciliation")
        if product:
            lines.append(
                f"| reconciliation service (`POST /admin/reconciliation/runs`) | "
                f"{product.get('status', product.get('error'))}: {product.get('keys_checked')} keys, "
                f"{product.get('drifted')} drifted, total drift {product.get('total_abs_drift_micro_usd')} |"
            )
        lines += [
            "",
            "| endpoint | requests | errors | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|",
        ]
        for name, ep in soak["endpoints"].items():
            lines.append(
                f"| `{name}` | {ep['requests']} | {ep['errors']} | {ep['p50_ms']} | {ep['p99_ms']} "
                f"| {ep['max_ms']} |"
            )
        lines += [
            "",
            "| process (all of its group) | RSS start MiB | RSS end MiB | RSS peak MiB |",
            "|---|---|---|---|",
        ]
        for name, rss in soak["rss_mib"].items():
            lines.append(f"| {name} | {rss['start']} | {rss['end']} | {rss['peak']} |")
        lines.append("")
    fuzz = report.get("fuzz")
    if fuzz:
        lines += [
            f"### Schema fuzzing: {fuzz['examples_per_operation']} examples per operation ({fuzz.get('at')})",
            "",
            f"`tests/fuzz` (api and router OpenAPI schemas): {fuzz['summary'] or 'no summary'}, "
            f"exit code {fuzz['exit_code']}, {fuzz['seconds']} s.",
            "",
        ]
    lines.append(END)
    return "\n".join(lines)


def write_doc(report: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    DOC.write_text(head + render(report) + tail, encoding="utf-8")


def now() -> str:
    """When a step ended, with the machine's 1-minute load average then."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{stamp}, load average {os.getloadavg()[0]:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="soak seconds (default 600)")
    parser.add_argument("--rate", type=float, default=4.0, help="job flows started per second (default 4)")
    parser.add_argument("--fuzz-examples", type=int, default=12, help="schemathesis examples per operation")
    parser.add_argument(
        "--budget", type=float, default=1140.0, help="seconds for everything; the fuzzing gets what is left"
    )
    parser.add_argument("--skip-faults", action="store_true")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--skip-fuzz", action="store_true")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/reliability.md")
    args = parser.parse_args(argv)

    started = time.monotonic()
    RESULTS.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores"}
    previous_file = RESULTS / "reliability.json"
    previous = json.loads(previous_file.read_text()) if previous_file.exists() else {}
    # A step skipped this time keeps its figures from the previous run (their own time says so).
    for step, skipped in (("faults", args.skip_faults), ("soak", args.skip_soak), ("fuzz", args.skip_fuzz)):
        if skipped and previous.get(step):
            report[step] = {"at": previous.get("finished_at"), **previous[step]}
    ok = True
    if not args.skip_faults:
        print("reliability: fault tests", flush=True)
        report["faults"] = {**run_faults(RESULTS / "faults-junit.xml"), "at": now()}
        ok &= report["faults"]["exit_code"] == 0
    if not args.skip_soak:
        print(f"reliability: soak for {args.duration:g} s at {args.rate:g} job flows/s", flush=True)
        soak = {**run_soak(duration=args.duration, rate=args.rate), "at": now()}
        report["soak"] = soak
        ok &= sum(soak["problem_counts"].values()) == 0 and soak["reconciliation"]["exact"]
        ok &= soak["error_rate"] == 0.0
        print(json.dumps({k: v for k, v in soak.items() if k != "endpoints"}, indent=1, default=str))
    if not args.skip_fuzz:
        left = args.budget - (time.monotonic() - started)
        examples = args.fuzz_examples if left > 240 else min(args.fuzz_examples, 4)
        print(
            f"reliability: schema fuzzing, {examples} examples per operation, {left:.0f} s left", flush=True
        )
        fuzz = run_fuzz(examples, budget_s=left)
        report["fuzz"] = {**fuzz, "at": now()} if fuzz else None
        ok &= report["fuzz"] is None or report["fuzz"]["exit_code"] == 0
    report["total_s"] = round(time.monotonic() - started)
    report["finished_at"] = now().split(",")[0]
    report["ok"] = ok
    (RESULTS / "reliability.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    if not args.no_doc:
        write_doc(report)
        print(f"reliability: figures written to {DOC.relative_to(REPO)}")
    print(f"reliability: {'all held' if ok else 'FAILED'} in {report['total_s']} s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
