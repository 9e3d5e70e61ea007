#!/usr/bin/env python3
"""Make each alert of a Prometheus rules file fire from real metrics.

usage: alerts_fire.py RULES BASELINE [--baseline-fires ALERT ...] -- ALERT[{k=v,...}]@SCRAPE ...

BASELINE and each SCRAPE are `sync_manager metrics` outputs saved by a test.
For each ALERT@SCRAPE this writes a promtool rule unit test whose input
series are BASELINE at 0m and SCRAPE at 1m (two scrapes a minute apart; the
real gap was shorter, which changes rates but not whether they are above 0),
and expects: at 0m the alert is not firing (unless it is listed after
--baseline-fires), at 1m it fires with exactly the given labels plus the
rule's own.  Runs `promtool test rules` on all of it; its exit status is ours.
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)$')


def series(path):
    out = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise SystemExit(f"{path}: not an exposition sample: {line}")
        out[m.group(1) + (m.group(2) or "")] = m.group(3)
    return out


def value(v):
    return "_" if v is None else ("NaN" if v.lower() == "nan" else v)


def main(argv):
    rules_path, baseline_path = argv[0], argv[1]
    rest = argv[2:]
    sep = rest.index("--")
    opts, cases = rest[:sep], rest[sep + 1:]
    baseline_fires = set(opts[1:]) if opts[:1] == ["--baseline-fires"] else set()
    rules = {r["alert"]: r for g in yaml.safe_load(open(rules_path))["groups"] for r in g["rules"] if "alert" in r}
    base = series(baseline_path)
    tests = []
    for case in cases:
        spec, scrape = case.rsplit("@", 1)
        name, _, lab = spec.partition("{")
        labels = dict(kv.split("=", 1) for kv in lab.rstrip("}").split(",") if kv)
        if name not in rules:
            raise SystemExit(f"{name}: no such alert in {rules_path}")
        rule = rules[name]
        trig = series(scrape)
        inputs = [{"series": s, "values": f"{value(base.get(s))} {value(trig.get(s))}"}
                  for s in sorted(set(base) | set(trig))]
        exp = {"exp_labels": {**labels, **rule.get("labels", {})}}
        if rule.get("annotations"):
            exp["exp_annotations"] = rule["annotations"]
        before = [] if name not in baseline_fires else [exp]
        tests.append({"interval": "1m", "input_series": inputs,
                      "alert_rule_test": [{"eval_time": "0m", "alertname": name, "exp_alerts": before},
                                          {"eval_time": "1m", "alertname": name, "exp_alerts": [exp]}]})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        yaml.safe_dump({"rule_files": [rules_path], "evaluation_interval": "1m", "tests": tests}, f)
    r = subprocess.run(["promtool", "test", "rules", f.name], capture_output=True, text=True)
    sys.stdout.write(r.stdout + r.stderr)
    if r.returncode != 0:
        print(f"(promtool input kept in {f.name})")
    else:
        os.unlink(f.name)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
