#!/usr/bin/env python3
"""Checks deploy/kubernetes/prometheus-rules.yaml with promtool itself.

`promtool check rules` on the PrometheusRule's groups (expressions and annotation templates);
`promtool test rules` on alerts.test.yaml against the same groups without their annotations
(the tests are about when each alert fires, not its wording); and every alert has a test case
where it fires and one where it stays silent. `.ci/setup` installs promtool (Debian's
`prometheus` package).
"""
import argparse
import pathlib
import shutil
import subprocess
import sys
import tempfile

import yaml


def promtool(*arguments: str) -> str:
    run = subprocess.run(["promtool", *arguments], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"promtool {' '.join(arguments)} failed:\n{run.stdout}{run.stderr}")
    return run.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", required=True, type=pathlib.Path)
    parser.add_argument("--tests", required=True, type=pathlib.Path)
    arguments = parser.parse_args()
    if shutil.which("promtool") is None:
        sys.exit("promtool is missing: run .ci/setup (it installs Debian's prometheus package)")

    spec = yaml.safe_load(arguments.rules.read_text())["spec"]
    alerts = [rule["alert"] for group in spec["groups"] for rule in group["rules"] if "alert" in rule]
    with tempfile.TemporaryDirectory() as directory:
        directory = pathlib.Path(directory)
        (directory / "full.yaml").write_text(yaml.safe_dump(spec))
        promtool("check", "rules", str(directory / "full.yaml"))
        for group in spec["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
        (directory / "rules.yaml").write_text(yaml.safe_dump(spec))
        shutil.copy(arguments.tests, directory / "alerts.test.yaml")
        promtool("test", "rules", str(directory / "alerts.test.yaml"))

    firing, silent = set(), set()
    for test in yaml.safe_load(arguments.tests.read_text())["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    problems = [f"{alert}: no test where it fires" for alert in alerts if alert not in firing]
    problems += [f"{alert}: no test where it stays silent" for alert in alerts if alert not in silent]
    problems += [f"{alert}: tested but not a rule" for alert in sorted((firing | silent) - set(alerts))]
    if problems:
        sys.exit("\n".join(problems))
    print(f"checked {len(alerts)} alerts with promtool: each fires on its condition and stays silent otherwise")


if __name__ == "__main__":
    main()
