#!/usr/bin/env python3
"""Checks the deployment files in deploy/ against the worker's own contract.

    python3 Tests/Deploy/check_deploy.py --deploy deploy --contract CONTRACT.json

The contract is JSON written from the code (options with their environment variables and
defaults, metric names, HTTP port and paths, the default drain timeout, the subcommands); see
Tests/Deploy/sample-contract.json. The check parses every YAML file under the deploy folder, the
Dockerfile, the systemd units and environment files and the topic provisioning script, and
reports, one line each, every place where they disagree with the contract or with each other:
unknown environment variables, ports, probe paths, grace periods, subcommands, metric names in
alert rules, the KEDA trigger, labels and selectors, references between objects.

Exit status: 0 when there is no problem (a summary line is printed), 1 when there are problems,
2 when the command line or the contract is unusable. Needs Python 3.8+ and PyYAML only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shlex
import sys
from collections import Counter
from pathlib import Path

try:
    import yaml
except ImportError:  # pragma: no cover
    sys.exit("check_deploy.py needs PyYAML (pip install pyyaml, or apt-get install python3-yaml)")

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
BINARY = "chanjing-worker"
# ConfigMaps and Secrets carrying this annotation are not environment variables (e.g. a CA file).
NOT_ENV_ANNOTATION = "deploy-check/not-env"
# Objects every cluster provides, which the deploy folder references without defining.
CLUSTER_PROVIDED = {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}
KEDA_DEFAULT_MAX_REPLICAS = 100
KUBERNETES_DEFAULT_GRACE_SECONDS = 30
SYSTEMD_DEFAULT_STOP_SECONDS = 90
SASL_MECHANISM_TO_KEDA = {
    "PLAIN": "plaintext",
    "SCRAM-SHA-256": "scram_sha256",
    "SCRAM-SHA-512": "scram_sha512",
    "OAUTHBEARER": "oauthbearer",
    "GSSAPI": "gssapi",
}
# Metrics outside the worker that tell the lag of its consumer group even when no worker runs.
EXTERNAL_LAG_METRICS = ("kafka_consumergroup_lag", "keda_scaler_metrics_value")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class ContractError(Exception):
    pass


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (the API server's strict decoding does too)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


class Contract:
    def __init__(self, data):
        try:
            options = data["options"]
            self.metrics = set(data["metrics"])
            http = data["http"]
            self.port = int(http["port"])
            self.liveness = http["liveness"]
            self.readiness = http["readiness"]
            self.metrics_path = http["metrics"]
            self.drain_default = float(data["drain_timeout_default_seconds"])
            self.subcommands = set(data["subcommands"])
        except (KeyError, TypeError, ValueError) as error:
            raise ContractError(f"the contract lacks or garbles {error}") from error
        if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
            raise ContractError("options must be a list of objects")
        self.exit_codes = data.get("exit_codes") or {}
        self.env_names = set()
        self.env_patterns = []
        self.flag_to_env = {}
        self.defaults = {}
        for option in options:
            env = option.get("environment")
            if not env:
                raise ContractError(f"an option has no environment variable: {option}")
            if "<" in env:
                pattern = re.escape(env)
                pattern = re.sub(r"\\<[A-Z_]+\\>|<[A-Z_]+>", "[A-Z0-9_]+", pattern)
                self.env_patterns.append(re.compile(f"^{pattern}$"))
            else:
                self.env_names.add(env)
                self.defaults[env] = option.get("default") or ""
            if option.get("flag"):
                self.flag_to_env[option["flag"]] = env

    def knows_env(self, name):
        return name in self.env_names or any(pattern.match(name) for pattern in self.env_patterns)

    def knows_metric(self, name):
        if name in self.metrics:
            return True
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[: -len(suffix)] if name.endswith(suffix) else None
            if base and base in self.metrics and not base.endswith("_total"):
                return True
        return False


class Manifest:
    def __init__(self, path, index, doc):
        self.path = path
        self.index = index
        self.doc = doc
        self.kind = doc.get("kind", "")
        self.metadata = doc.get("metadata") or {}
        self.name = self.metadata.get("name", "")

    def where(self):
        return f"{self.path}: {self.kind}/{self.name}"


def seconds(text):
    """A number of seconds from an option value; None when it is not one."""
    try:
        value = float(str(text).strip())
    except ValueError:
        return None
    return value if value == value else None


def systemd_seconds(text):
    """Seconds of a systemd time span ("60", "90s", "1min 30s"); inf for infinity."""
    text = text.strip()
    if text == "infinity":
        return float("inf")
    units = {
        "": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1, "us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3,
        "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
    }
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    if not parts or re.sub(r"[\d.\sa-z]", "", text):
        return None
    for number, unit in parts:
        if unit not in units:
            return None
        total += float(number) * units[unit]
    return total


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


class Checker:
    def __init__(self, deploy: Path, contract: Contract):
        self.deploy = deploy
        self.contract = contract
        self.problems = []
        self.stats = Counter()
        self.manifests = []
        self.by_kind_name = {}
        self.dockerfile_cmd = None
        self.partitions = None
        self.partitions_source = None
        self._workloads = None

    # Reporting

    def problem(self, where, message):
        line = f"{where}: {message}"
        if line not in self.problems:
            self.problems.append(line)

    def rel(self, path):
        try:
            return os.path.relpath(path)
        except ValueError:
            return str(path)

    # Loading

    def files(self, *patterns):
        found = set()
        for pattern in patterns:
            found.update(p for p in self.deploy.rglob(pattern) if p.is_file())
        return sorted(found)

    def load_yaml(self):
        for path in self.files("*.yaml", "*.yml"):
            self.stats["yaml files"] += 1
            try:
                docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=UniqueKeyLoader))
            except (yaml.YAMLError, UnicodeDecodeError) as error:
                self.problem(self.rel(path), f"does not parse: {' '.join(str(error).split())}")
                continue
            for index, doc in enumerate(docs):
                if doc is None:
                    continue
                if not isinstance(doc, dict) or not doc.get("apiVersion") or not doc.get("kind"):
                    self.problem(self.rel(path), f"document {index + 1} is not a Kubernetes object (apiVersion and kind)")
                    continue
                manifest = Manifest(self.rel(path), index, doc)
                if manifest.kind != "Kustomization" and not manifest.name:
                    self.problem(manifest.where(), "has no metadata.name")
                key = (manifest.kind, manifest.name)
                if key in self.by_kind_name and manifest.kind != "Kustomization":
                    self.problem(manifest.where(), f"is defined twice (also in {self.by_kind_name[key].path})")
                self.by_kind_name[key] = manifest
                self.manifests.append(manifest)
                self.stats["manifests"] += 1

    def of_kind(self, *kinds):
        return [m for m in self.manifests if m.kind in kinds]

    def exists(self, kind, name):
        return (kind, name) in self.by_kind_name or (kind, name) in CLUSTER_PROVIDED

    # Environment of a container

    def config_data(self, manifest):
        """Keys and values of a ConfigMap or Secret (Secret data decoded; None when undecodable)."""
        values = {}
        doc = manifest.doc
        for key, value in (doc.get("data") or {}).items():
            if manifest.kind == "Secret":
                try:
                    value = base64.b64decode(str(value), validate=True).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    value = None
            values[key] = None if value is None else str(value)
        for key, value in (doc.get("stringData") or {}).items():
            values[key] = None if value is None else str(value)
        return values

    def container_env(self, workload, container):
        """Environment variable name -> value (None when unknown) as the container sees it."""
        env = {}
        where = f"{workload.where()} container {container.get('name')}"
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                ref = source.get(key)
                if not ref:
                    continue
                target = self.by_kind_name.get((kind, ref.get("name")))
                if target is None:
                    if not ref.get("optional"):
                        self.problem(where, f"envFrom {kind} {ref.get('name')!r} is not defined in the deploy folder")
                    continue
                for name, value in self.config_data(target).items():
                    env[prefix + name] = value
        for entry in container.get("env") or []:
            name = entry.get("name")
            if "value" in entry:
                env[name] = None if entry["value"] is None else str(entry["value"])
                continue
            value = None
            source = entry.get("valueFrom") or {}
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                ref = source.get(key)
                if not ref:
                    continue
                target = self.by_kind_name.get((kind, ref.get("name")))
                if target is None:
                    if not ref.get("optional"):
                        self.problem(where, f"env {name}: {kind} {ref.get('name')!r} is not defined in the deploy folder")
                    continue
                data = self.config_data(target)
                if ref.get("key") not in data and not ref.get("optional"):
                    self.problem(where, f"env {name}: {kind} {ref.get('name')!r} has no key {ref.get('key')!r}")
                value = data.get(ref.get("key"))
            env[name] = value
        return env

    # Containers of the worker's image

    def ours(self, container):
        image = str(container.get("image", ""))
        return re.search(rf"(^|/){re.escape(BINARY)}([:@]|$)", image) is not None

    def argv(self, container):
        """The chanjing-worker arguments of a container of our image; None when it runs something else."""
        command = [str(a) for a in container.get("command") or []]
        args = [str(a) for a in container.get("args") or []]
        if command:
            if os.path.basename(command[0]) != BINARY:
                return None
            argv = command[1:] + args
        else:
            argv = args
        if not argv and self.dockerfile_cmd:
            argv = list(self.dockerfile_cmd)
        return argv

    def flag_values(self, argv):
        """{flag: value} of `--flag value` and `--flag=value` arguments."""
        values = {}
        index = 0
        while index < len(argv):
            arg = argv[index]
            if arg.startswith("--"):
                if "=" in arg:
                    flag, value = arg.split("=", 1)
                    values[flag] = value
                elif index + 1 < len(argv) and not argv[index + 1].startswith("--"):
                    values[arg] = argv[index + 1]
                    index += 1
                else:
                    values[arg] = ""
            index += 1
        return values

    def workloads(self):
        """(workload, pod spec, pod labels, [(container, subcommand, argv)]) for every workload."""
        if self._workloads is not None:
            return self._workloads
        result = []
        for workload in self.of_kind(*WORKLOAD_KINDS):
            template = (workload.doc.get("spec") or {}).get("template") or {}
            pod = template.get("spec") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            containers = []
            for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
                if not self.ours(container):
                    continue
                argv = self.argv(container)
                where = f"{workload.where()} container {container.get('name')}"
                if argv is None:
                    self.problem(where, f"runs {container.get('command')!r}, not {BINARY}")
                    continue
                subcommand = argv[0] if argv else None
                if subcommand not in self.contract.subcommands:
                    self.problem(where, f"runs subcommand {subcommand!r}, which is not one of {sorted(self.contract.subcommands)}")
                containers.append((container, subcommand, argv))
            result.append((workload, pod, labels, containers))
        self._workloads = result
        return result

    # Checks

    def check_config_maps_and_secrets(self):
        for manifest in self.of_kind("ConfigMap", "Secret"):
            if str(manifest.metadata.get("annotations", {}).get(NOT_ENV_ANNOTATION, "")).lower() == "true":
                continue
            if manifest.kind == "Secret" and manifest.doc.get("type", "Opaque") != "Opaque":
                continue
            for name in self.config_data(manifest):
                self.stats["environment variables"] += 1
                if not self.contract.knows_env(name):
                    self.problem(manifest.where(), f"key {name} is not an environment variable of any option")

    def setting(self, env, flags, name):
        """The value the worker resolves for the option with environment variable `name`."""
        for flag, env_name in self.contract.flag_to_env.items():
            if env_name == name and flag in flags:
                return flags[flag]
        if env.get(name):
            return env[name]
        if name in env and env[name] is None:
            return None  # from a Secret or elsewhere: unknown here
        return self.contract.defaults.get(name, "")

    def check_credentials(self, where, env, subcommand):
        names = set(env)
        if subcommand == "run":
            kinds = [
                bool({"CHANJING_APP_ID", "CHANJING_SECRET_KEY"} & names),
                "CHANJING_ACCESS_TOKEN" in names,
                "CHANJING_ACCESS_TOKEN_FILE" in names,
            ]
            if sum(kinds) == 0:
                self.problem(where, "sets no Chanjing credentials (app ID and key, CHANJING_ACCESS_TOKEN or CHANJING_ACCESS_TOKEN_FILE)")
            elif sum(kinds) > 1:
                self.problem(where, "sets more than one kind of Chanjing credentials: the worker refuses to start (exit 78)")
        elif subcommand == "token-refresher":
            for name in ("CHANJING_APP_ID", "CHANJING_SECRET_KEY"):
                if name not in names:
                    self.problem(where, f"the token refresher needs {name}")

    def check_path_mounted(self, where, container, path, what):
        mounts = [m.get("mountPath", "") for m in container.get("volumeMounts") or []]
        if not any(path == m or path.startswith(m.rstrip("/") + "/") for m in mounts if m):
            self.problem(where, f"{what} {path} is on no volume mount (containers do not share their own files)")

    def port_text(self, container, port):
        """A port for messages: `'http' (9464)` for a name."""
        number = self.port_number(container, port)
        return repr(port) if number == port or number is None else f"{port!r} ({number})"

    def port_number(self, container, port):
        """A probe's or Service's port (number or container port name) as a number."""
        if isinstance(port, int):
            return port
        if isinstance(port, str) and port.isdigit():
            return int(port)
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                return declared.get("containerPort")
        return None

    def check_workloads(self):
        run_pods = []  # (workload, labels, container, port)
        refreshers = []
        for workload, pod, labels, containers in self.workloads():
            spec = workload.doc.get("spec") or {}
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            if workload.kind in WORKLOAD_KINDS and not labels_match(selector, labels):
                self.problem(workload.where(), f"selector {selector} does not match its pod labels {labels}")
            account = pod.get("serviceAccountName")
            if account and not self.exists("ServiceAccount", account):
                self.problem(workload.where(), f"ServiceAccount {account!r} is not defined in the deploy folder")
            for volume in pod.get("volumes") or []:
                for kind, key, name_key in (("Secret", "secret", "secretName"), ("ConfigMap", "configMap", "name")):
                    ref = volume.get(key)
                    if ref and not ref.get("optional") and not self.exists(kind, ref.get(name_key)):
                        self.problem(workload.where(), f"volume {volume.get('name')}: {kind} {ref.get(name_key)!r} is not defined in the deploy folder")
                for source in (volume.get("projected") or {}).get("sources") or []:
                    for kind, key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                        ref = source.get(key)
                        if ref and not ref.get("optional") and not self.exists(kind, ref.get("name")):
                            self.problem(workload.where(), f"volume {volume.get('name')}: {kind} {ref.get('name')!r} is not defined in the deploy folder")
            for container, subcommand, argv in containers:
                where = f"{workload.where()} container {container.get('name')}"
                env = self.container_env(workload, container)
                for entry in container.get("env") or []:
                    self.stats["environment variables"] += 1
                    if not self.contract.knows_env(entry.get("name", "")):
                        self.problem(where, f"env {entry.get('name')} is not an environment variable of any option")
                flags = self.flag_values(argv[1:])
                self.check_credentials(where, env, subcommand)
                if subcommand == "run":
                    for flag in flags:
                        if flag not in self.contract.flag_to_env and flag not in ("--help", "-h"):
                            self.problem(where, f"`run` has no flag {flag}")
                    port = self.check_run_container(workload, pod, container, env, flags, where)
                    run_pods.append((workload, labels, container, port))
                    token_file = self.setting(env, flags, "CHANJING_ACCESS_TOKEN_FILE")
                    if token_file:
                        self.check_path_mounted(where, container, token_file, "CHANJING_ACCESS_TOKEN_FILE")
                elif subcommand == "token-refresher":
                    refreshers.append(workload)
                    if "--file" not in flags or not flags["--file"]:
                        self.problem(where, "token-refresher needs --file")
                    else:
                        self.check_path_mounted(where, container, flags["--file"], "the token file")
                    replicas = spec.get("replicas", 1)
                    if workload.kind == "DaemonSet" or replicas != 1:
                        self.problem(workload.where(), f"runs the token refresher with {replicas} replicas: exactly one process may fetch tokens")
                    strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
                    if workload.kind == "Deployment" and strategy != "Recreate":
                        self.problem(workload.where(), f"strategy {strategy} can run two token refreshers during a rollout: use Recreate")
        if len(refreshers) > 1:
            self.problem(refreshers[1].where(), f"a second token refresher (also {refreshers[0].where()}): run exactly one")
        return run_pods

    def check_run_container(self, workload, pod, container, env, flags, where):
        """Ports, probes, grace period of a `run` container; returns its HTTP port."""
        contract = self.contract
        port_text = self.setting(env, flags, "HTTP_PORT") if "HTTP_PORT" in contract.env_names else None
        port = contract.port
        if port_text not in (None, ""):
            if not str(port_text).isdigit() or int(port_text) == 0:
                self.problem(where, f"HTTP_PORT {port_text!r} must be a fixed port number (0 picks a random one that nothing can probe)")
            else:
                port = int(port_text)
                if port != contract.port:
                    self.stats["HTTP_PORT overrides"] += 1
        declared = [p.get("containerPort") for p in container.get("ports") or []]
        self.stats["ports"] += 1
        if port not in declared:
            self.problem(where, f"declares container ports {declared}, not the HTTP port {port}")
        for probe_name, expected in (("livenessProbe", contract.liveness), ("readinessProbe", contract.readiness), ("startupProbe", None)):
            probe = container.get(probe_name)
            if probe is None:
                if expected is not None:
                    self.problem(where, f"has no {probe_name}")
                continue
            http = probe.get("httpGet")
            if not http:
                self.problem(where, f"{probe_name} is not an httpGet probe")
                continue
            self.stats["probes"] += 1
            path = http.get("path", "/")
            allowed = {expected} if expected else {contract.liveness, contract.readiness}
            if path not in allowed:
                self.problem(where, f"{probe_name} path {path} is not {' or '.join(sorted(allowed))}")
            if self.port_number(container, http.get("port")) != port:
                self.problem(where, f"{probe_name} port {self.port_text(container, http.get('port'))} is not the HTTP port {port}")
        drain_text = self.setting(env, flags, "DRAIN_TIMEOUT")
        drain = contract.drain_default if drain_text in (None, "") else seconds(drain_text)
        if drain is None:
            self.problem(where, f"DRAIN_TIMEOUT {drain_text!r} is not a number of seconds")
            drain = contract.drain_default
        grace = pod.get("terminationGracePeriodSeconds", KUBERNETES_DEFAULT_GRACE_SECONDS)
        if not isinstance(grace, (int, float)) or grace <= drain:
            self.problem(workload.where(), f"terminationGracePeriodSeconds {grace} must exceed the drain timeout ({drain:g} s)")
        submit_text = self.setting(env, flags, "CHANJING_SUBMIT_TIMEOUT")
        submit = seconds(submit_text) if submit_text else None
        if submit is not None and drain <= submit:
            self.problem(where, f"DRAIN_TIMEOUT ({drain:g}) must exceed CHANJING_SUBMIT_TIMEOUT ({submit:g}): the worker refuses to start")
        annotations = ((workload.doc.get("spec") or {}).get("template") or {}).get("metadata", {}).get("annotations") or {}
        if "prometheus.io/port" in annotations:
            self.stats["ports"] += 1
            if str(annotations["prometheus.io/port"]) != str(port):
                self.problem(workload.where(), f"annotation prometheus.io/port {annotations['prometheus.io/port']} is not the HTTP port {port}")
        if "prometheus.io/path" in annotations and annotations["prometheus.io/path"] != contract.metrics_path:
            self.problem(workload.where(), f"annotation prometheus.io/path {annotations['prometheus.io/path']} is not {contract.metrics_path}")
        return port

    def check_services(self, run_pods):
        all_pods = [(w, labels) for w, _, labels, _ in self.workloads()]
        services = {}
        for service in self.of_kind("Service"):
            spec = service.doc.get("spec") or {}
            selector = spec.get("selector") or {}
            matched = [(w, labels, c, p) for w, labels, c, p in run_pods if labels_match(selector, labels)]
            if not matched:
                self.problem(service.where(), f"selector {selector} matches no worker pod")
                continue
            others = [w.name for w, labels in all_pods if labels_match(selector, labels) and w.name not in {m[0].name for m in matched}]
            if others:
                self.problem(service.where(), f"selector {selector} also matches {others}")
            workload, labels, container, port = matched[0]
            for service_port in spec.get("ports") or []:
                self.stats["ports"] += 1
                target = service_port.get("targetPort", service_port.get("port"))
                if self.port_number(container, target) != port:
                    self.problem(service.where(), f"port {service_port.get('name')!r} targets {self.port_text(container, target)}, not the HTTP port {port}")
            services[service.name] = (service, port, container)
        for monitor in self.of_kind("ServiceMonitor"):
            spec = monitor.doc.get("spec") or {}
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            targets = [s for s in services.values() if labels_match(selector, s[0].metadata.get("labels") or {})]
            if not targets:
                self.problem(monitor.where(), f"selector {selector} matches no worker Service")
                continue
            service, port, container = targets[0]
            service_ports = {p.get("name"): p for p in (service.doc.get("spec") or {}).get("ports") or []}
            for endpoint in spec.get("endpoints") or []:
                self.stats["ports"] += 1
                if endpoint.get("path", "/metrics") != self.contract.metrics_path:
                    self.problem(monitor.where(), f"scrapes path {endpoint.get('path')}, not {self.contract.metrics_path}")
                if "port" in endpoint:
                    service_port = service_ports.get(endpoint["port"])
                    if service_port is None:
                        self.problem(monitor.where(), f"scrapes port {endpoint['port']!r}, which Service {service.name} does not name")
                    elif self.port_number(container, service_port.get("targetPort", service_port.get("port"))) != port:
                        self.problem(monitor.where(), f"scrapes port {endpoint['port']!r}, which does not lead to the HTTP port {port}")
                elif "targetPort" in endpoint and self.port_number(container, endpoint["targetPort"]) != port:
                    self.problem(monitor.where(), f"scrapes target port {endpoint['targetPort']!r}, not the HTTP port {port}")
        for monitor in self.of_kind("PodMonitor"):
            spec = monitor.doc.get("spec") or {}
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            matched = [(w, labels, c, p) for w, labels, c, p in run_pods if labels_match(selector, labels)]
            if not matched:
                self.problem(monitor.where(), f"selector {selector} matches no worker pod")
                continue
            _, _, container, port = matched[0]
            for endpoint in spec.get("podMetricsEndpoints") or []:
                self.stats["ports"] += 1
                if self.port_number(container, endpoint.get("port", endpoint.get("targetPort"))) != port:
                    self.problem(monitor.where(), f"scrapes port {endpoint.get('port')!r}, not the HTTP port {port}")
                if endpoint.get("path", "/metrics") != self.contract.metrics_path:
                    self.problem(monitor.where(), f"scrapes path {endpoint.get('path')}, not {self.contract.metrics_path}")

    def check_selectors(self, run_pods):
        pods = [(w, labels) for w, _, labels, _ in self.workloads()]
        for workload, _ in pods:
            selector = ((workload.doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            for other, labels in pods:
                if other is not workload and labels_match(selector, labels):
                    self.problem(workload.where(), f"selector {selector} also matches the pods of {other.where()}")
        worker_names = {w.name for w, _, _, _ in run_pods}
        for budget in self.of_kind("PodDisruptionBudget"):
            spec = budget.doc.get("spec") or {}
            selector = (spec.get("selector") or {}).get("matchLabels") or {}
            matched = {w.name for w, labels in pods if labels_match(selector, labels)}
            if not matched:
                self.problem(budget.where(), f"selector {selector} matches no pod")
            elif not matched <= worker_names:
                self.problem(budget.where(), f"selector {selector} matches {sorted(matched - worker_names)} besides the workers")
            least = min(
                (s.doc.get("spec", {}).get("minReplicaCount", 0) for s in self.of_kind("ScaledObject")
                 if (s.doc.get("spec", {}).get("scaleTargetRef") or {}).get("name") in matched),
                default=None,
            )
            available = spec.get("minAvailable")
            if isinstance(available, int) and available > 0 and least is not None and available >= least:
                self.problem(budget.where(), f"minAvailable {available} blocks node drains whenever KEDA runs its minimum of {least} worker{'s' if least != 1 else ''}: use maxUnavailable")

    def check_rbac(self):
        for binding in self.of_kind("RoleBinding"):
            ref = binding.doc.get("roleRef") or {}
            if ref.get("kind") == "Role" and not self.exists("Role", ref.get("name")):
                self.problem(binding.where(), f"Role {ref.get('name')!r} is not defined in the deploy folder")
            for subject in binding.doc.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount" and not self.exists("ServiceAccount", subject.get("name")):
                    self.problem(binding.where(), f"ServiceAccount {subject.get('name')!r} is not defined in the deploy folder")
        for role in self.of_kind("Role"):
            for rule in role.doc.get("rules") or []:
                if "secrets" in (rule.get("resources") or []):
                    for name in rule.get("resourceNames") or []:
                        if not self.exists("Secret", name):
                            self.problem(role.where(), f"grants access to Secret {name!r}, which is not defined in the deploy folder")

    def check_keda(self, run_pods):
        for scaled in self.of_kind("ScaledObject"):
            spec = scaled.doc.get("spec") or {}
            target = spec.get("scaleTargetRef") or {}
            kind = target.get("kind", "Deployment")
            workers = [(w, c) for w, _, c, _ in run_pods if w.kind == kind and w.name == target.get("name")]
            if not workers:
                self.problem(scaled.where(), f"scales {kind} {target.get('name')!r}, which runs no `run` worker")
                continue
            workload, container = workers[0]
            env = self.container_env(workload, container)
            argv = self.argv(container) or []
            flags = self.flag_values(argv[1:])
            maximum = spec.get("maxReplicaCount", KEDA_DEFAULT_MAX_REPLICAS)
            minimum = spec.get("minReplicaCount", 0)
            if self.partitions is None:
                self.problem(scaled.where(), "no PARTITIONS=${PARTITIONS:-N} default found in a provisioning script under the deploy folder")
            elif not isinstance(maximum, int) or maximum > self.partitions:
                self.problem(scaled.where(), f"maxReplicaCount {maximum} exceeds the {self.partitions} partitions of {self.partitions_source}")
            if isinstance(minimum, int) and isinstance(maximum, int) and minimum > maximum:
                self.problem(scaled.where(), f"minReplicaCount {minimum} exceeds maxReplicaCount {maximum}")
            triggers = [t for t in spec.get("triggers") or [] if t.get("type") in ("kafka", "apache-kafka")]
            if not triggers:
                self.problem(scaled.where(), "has no kafka trigger")
            for trigger in triggers:
                self.stats["KEDA triggers"] += 1
                metadata = trigger.get("metadata") or {}
                for key, value in metadata.items():
                    if not isinstance(value, str):
                        self.problem(scaled.where(), f"trigger metadata {key} is {value!r}, not a string (the CRD accepts strings only: quote it)")
                metadata = {k: str(v) for k, v in metadata.items()}
                expectations = (
                    ("consumerGroup", "KAFKA_GROUP_ID"),
                    ("topic", "REQUESTS_TOPIC"),
                    ("offsetResetPolicy", "KAFKA_AUTO_OFFSET_RESET"),
                )
                for key, env_name in expectations:
                    expected = self.setting(env, flags, env_name)
                    if expected is not None and metadata.get(key) != expected:
                        self.problem(scaled.where(), f"trigger {key} {metadata.get(key)!r} is not the workers' {env_name} {expected!r}")
                if metadata.get("offsetResetPolicy") != "earliest":
                    self.problem(scaled.where(), f"trigger offsetResetPolicy {metadata.get('offsetResetPolicy')!r} is not 'earliest'")
                brokers = self.setting(env, flags, "KAFKA_BROKERS")
                if brokers is not None and "bootstrapServers" in metadata:
                    if {b.strip() for b in brokers.split(",")} != {b.strip() for b in metadata["bootstrapServers"].split(",")}:
                        self.problem(scaled.where(), f"trigger bootstrapServers {metadata['bootstrapServers']!r} are not the workers' KAFKA_BROKERS {brokers!r}")
                if metadata.get("allowIdleConsumers", "false").lower() == "true":
                    self.problem(scaled.where(), "allowIdleConsumers true lets the pool grow past the partition count")
                threshold = seconds(metadata.get("lagThreshold", "5"))
                in_flight = seconds(self.setting(env, flags, "MAX_IN_FLIGHT") or "") if "MAX_IN_FLIGHT" in self.contract.env_names else None
                if threshold is not None and in_flight is not None and threshold < in_flight:
                    self.problem(scaled.where(), f"lagThreshold {threshold:g} is below MAX_IN_FLIGHT {in_flight:g}: a worker's own uncommitted requests would count as backlog")
                auth = self.trigger_auth(scaled, trigger)
                self.check_kafka_security(scaled, env, metadata, auth)

    def trigger_auth(self, scaled, trigger):
        """Parameter -> value (None when unknown) of the trigger's TriggerAuthentication."""
        ref = trigger.get("authenticationRef")
        if not ref:
            return {}
        kind = ref.get("kind", "TriggerAuthentication")
        auth = self.by_kind_name.get((kind, ref.get("name")))
        if auth is None:
            if kind == "TriggerAuthentication":
                self.problem(scaled.where(), f"TriggerAuthentication {ref.get('name')!r} is not defined in the deploy folder")
            return {}
        parameters = {}
        for entry in (auth.doc.get("spec") or {}).get("secretTargetRef") or []:
            secret = self.by_kind_name.get(("Secret", entry.get("name")))
            if secret is None:
                self.problem(auth.where(), f"Secret {entry.get('name')!r} is not defined in the deploy folder")
                continue
            data = self.config_data(secret)
            if entry.get("key") not in data:
                self.problem(auth.where(), f"Secret {entry.get('name')!r} has no key {entry.get('key')!r}")
            parameters[entry.get("parameter")] = data.get(entry.get("key"))
        return parameters

    def check_kafka_security(self, scaled, env, metadata, auth):
        protocol = (env.get("KAFKA_PROP_SECURITY_PROTOCOL") or "").upper()
        mechanism = (env.get("KAFKA_PROP_SASL_MECHANISMS") or env.get("KAFKA_PROP_SASL_MECHANISM") or "").upper()
        sasl = metadata.get("sasl", auth.get("sasl", "none" if "sasl" not in auth else None))
        tls = metadata.get("tls", auth.get("tls", "disable" if "tls" not in auth else None))
        if protocol.startswith("SASL") and sasl is not None:
            expected = SASL_MECHANISM_TO_KEDA.get(mechanism or "GSSAPI")
            if sasl != expected:
                self.problem(scaled.where(), f"trigger sasl {sasl!r} does not match the workers' SASL mechanism {mechanism or 'GSSAPI'} ({expected})")
        if protocol and tls is not None:
            wants_tls = protocol in ("SSL", "SASL_SSL")
            if (tls == "enable") != wants_tls:
                self.problem(scaled.where(), f"trigger tls {tls!r} does not match the workers' security protocol {protocol}")
        if protocol.startswith("SASL") and not ({"username", "password"} <= set(auth) or mechanism == "GSSAPI"):
            self.problem(scaled.where(), "the workers use SASL but the trigger's authentication gives no username and password")

    def check_rules(self, run_pods):
        group = topic = None
        if run_pods:
            workload, _, container, _ = run_pods[0]
            env = self.container_env(workload, container)
            flags = self.flag_values((self.argv(container) or [])[1:])
            group = self.setting(env, flags, "KAFKA_GROUP_ID")
            topic = self.setting(env, flags, "REQUESTS_TOPIC")
        scaled_objects = {m.name for m in self.of_kind("ScaledObject")}
        rules = []
        for manifest in self.of_kind("PrometheusRule"):
            for rule_group in (manifest.doc.get("spec") or {}).get("groups") or []:
                for rule in rule_group.get("rules") or []:
                    rules.append((manifest, rule))
        if not rules:
            return
        external_lag = absent = False
        for manifest, rule in rules:
            name = rule.get("alert") or rule.get("record")
            where = f"{manifest.where()} rule {name}"
            expr = rule.get("expr")
            if not name or not isinstance(expr, (str, int, float)):
                self.problem(where, "needs alert (or record) and expr")
                continue
            expr = str(expr)
            self.stats["alert rules"] += 1
            duration = rule.get("for")
            if duration is not None and not re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", str(duration)):
                self.problem(where, f"for {duration!r} is not a Prometheus duration")
            bare = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
            for metric in sorted(set(re.findall(r"\bchanjing_worker_[A-Za-z0-9_:]*", bare))):
                self.stats["metric references"] += 1
                if not self.contract.knows_metric(metric):
                    self.problem(where, f"uses metric {metric}, which the worker does not export")
            if any(re.search(rf"\b{m}\b", bare) for m in EXTERNAL_LAG_METRICS):
                external_lag = True
            if re.search(r"\babsent\s*\(\s*chanjing_worker_", bare):
                absent = True
            for metric, matchers in re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*\{([^}]*)\}", expr):
                for label, operator, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"', matchers):
                    if operator != "=":
                        continue
                    if "lag" in metric and label == "consumergroup" and group is not None and value != group:
                        self.problem(where, f"selects consumer group {value!r}, but the workers use {group!r}")
                    if "lag" in metric and label == "topic" and topic is not None and value != topic:
                        self.problem(where, f"selects topic {value!r}, but the workers read {topic!r}")
                    if metric.startswith("keda_") and label == "scaledObject" and value not in scaled_objects:
                        self.problem(where, f"selects ScaledObject {value!r}, which is not defined in the deploy folder")
        if not external_lag:
            self.problem(rules[0][0].where(), f"no alert watches the lag from outside the workers ({' or '.join(EXTERNAL_LAG_METRICS)}): lag alerts go silent when every worker is down")
        if not absent:
            self.problem(rules[0][0].where(), "no absent(chanjing_worker_...) alert: nothing fires when no worker is scraped")

    def check_kustomizations(self):
        for kustomization in self.of_kind("Kustomization"):
            folder = Path(kustomization.path).parent
            listed = set()
            for resource in kustomization.doc.get("resources") or []:
                path = folder / resource
                listed.add(os.path.normpath(path))
                if not path.exists():
                    self.problem(kustomization.path, f"resource {resource} does not exist")
            for path in sorted(folder.glob("*.y*ml")):
                normalized = os.path.normpath(path)
                if path.name.startswith("kustomization.") or ".template." in path.name:
                    continue
                if normalized not in listed:
                    self.problem(kustomization.path, f"does not list {path.name}: `kubectl apply -k` would leave it out")

    def load_partitions(self):
        for script in self.files("*.sh"):
            match = re.search(r"^\s*(?:export\s+)?PARTITIONS=\$\{PARTITIONS:-(\d+)\}", script.read_text(encoding="utf-8"), re.M)
            if match:
                self.partitions = int(match.group(1))
                self.partitions_source = self.rel(script)
                self.stats["provisioning scripts"] += 1
                return

    def check_dockerfile(self):
        paths = [p for p in self.files("Dockerfile", "Dockerfile.*", "*.Dockerfile") if not p.name.endswith(".dockerignore")]
        if not paths:
            self.problem(self.rel(self.deploy), "has no Dockerfile")
            return
        for path in paths:
            where = self.rel(path)
            self.stats["Dockerfiles"] += 1
            lines = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8")).splitlines()
            instructions = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
            arguments = {}
            stages = []
            exposed = set()
            entrypoint = cmd = None
            for line in instructions:
                keyword, _, rest = line.partition(" ")
                keyword = keyword.upper()
                rest = rest.strip()
                if keyword == "ARG" and "=" in rest and not stages:
                    key, value = rest.split("=", 1)
                    arguments[key.strip()] = value.strip().strip('"')
                elif keyword == "FROM":
                    image = re.sub(r"\$\{?(\w+)\}?", lambda m: arguments.get(m.group(1), m.group(0)), rest.split()[0])
                    stages.append({"image": image, "text": ""})
                    entrypoint = cmd = None
                elif keyword == "EXPOSE":
                    exposed = {token.split("/")[0] for token in rest.split()}
                elif keyword in ("ENTRYPOINT", "CMD"):
                    try:
                        value = json.loads(rest)
                    except ValueError:
                        value = None
                    if not isinstance(value, list):
                        self.problem(where, f"{keyword} is not in exec form (JSON array): SIGTERM would go to a shell, not the worker")
                        value = shlex.split(rest)
                    if keyword == "ENTRYPOINT":
                        entrypoint = value
                    else:
                        cmd = value
                if stages:
                    stages[-1]["text"] += line + "\n"
            self.stats["ports"] += 1
            if exposed != {str(self.contract.port)}:
                self.problem(where, f"EXPOSE {' '.join(sorted(exposed)) or '(none)'} is not the HTTP port {self.contract.port}")
            if not entrypoint or os.path.basename(entrypoint[0]) != BINARY:
                self.problem(where, f"ENTRYPOINT {entrypoint} does not start {BINARY}")
            if cmd:
                if cmd[0] not in self.contract.subcommands:
                    self.problem(where, f"CMD {cmd} names no subcommand of {BINARY}")
                else:
                    self.dockerfile_cmd = cmd
            for stage in stages:
                if "bookworm" not in stage["image"]:
                    self.problem(where, f"stage FROM {stage['image']} is not Debian bookworm (the binding expects bookworm's librdkafka 2.0.2)")
            if stages and not re.search(r"\blibrdkafka1\b", stages[-1]["text"]):
                self.problem(where, "the runtime stage does not install librdkafka1")

    def parse_env_file(self, path):
        values = {}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("export "):
                line = line[len("export "):]
            name, equals, value = line.partition("=")
            if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
                self.problem(f"{self.rel(path)}:{number}", "is not NAME=value")
                continue
            values[name.strip()] = value.strip().strip('"').strip("'")
        return values

    def parse_unit(self, path):
        sections = {}
        section = None
        text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = sections.setdefault(line[1:-1], [])
                continue
            if section is None or "=" not in line:
                self.problem(self.rel(path), f"cannot parse line {line!r}")
                continue
            key, value = line.split("=", 1)
            section.append((key.strip(), value.strip()))
        return sections

    def check_systemd(self):
        env_files = {p.name: p for p in self.files("*.env", "*.env.example")}
        for path in env_files.values():
            self.stats["env files"] += 1
            for name in self.parse_env_file(path):
                self.stats["environment variables"] += 1
                if not self.contract.knows_env(name):
                    self.problem(self.rel(path), f"{name} is not an environment variable of any option")
        refresher_files = []
        worker_files = []
        for path in self.files("*.service"):
            where = self.rel(path)
            self.stats["systemd units"] += 1
            service = dict()
            entries = self.parse_unit(path).get("Service", [])
            for key, value in entries:
                service.setdefault(key, []).append(value)
            env = {}
            for value in service.get("EnvironmentFile", []):
                optional = value.startswith("-")
                name = os.path.basename(value.lstrip("-"))
                example = env_files.get(name) or env_files.get(name + ".example")
                if example is None:
                    if not optional:
                        self.problem(where, f"EnvironmentFile {value} has no {name} or {name}.example in the deploy folder")
                    continue
                env.update(self.parse_env_file(example))
            for value in service.get("Environment", []):
                for assignment in shlex.split(value):
                    name, _, setting = assignment.partition("=")
                    self.stats["environment variables"] += 1
                    if not self.contract.knows_env(name):
                        self.problem(where, f"Environment {name} is not an environment variable of any option")
                    env[name] = setting
            starts = service.get("ExecStart", [])
            if len(starts) != 1:
                self.problem(where, f"has {len(starts)} ExecStart lines")
                continue
            argv = shlex.split(starts[0].lstrip("-@:+!"))
            if not argv or os.path.basename(argv[0]) != BINARY:
                continue
            subcommand = argv[1] if len(argv) > 1 else None
            if subcommand not in self.contract.subcommands:
                self.problem(where, f"ExecStart runs subcommand {subcommand!r}, which is not one of {sorted(self.contract.subcommands)}")
                continue
            flags = self.flag_values(argv[2:])
            self.check_credentials(where, env, subcommand)
            configuration_exit = self.contract.exit_codes.get("configuration")
            if configuration_exit is not None:
                prevented = " ".join(service.get("RestartPreventExitStatus", [])).split()
                if str(configuration_exit) not in prevented:
                    self.problem(where, f"RestartPreventExitStatus does not hold {configuration_exit}: a bad configuration would restart forever")
            if subcommand == "token-refresher":
                refresher_files.append((where, flags.get("--file")))
                continue
            for flag in flags:
                if flag not in self.contract.flag_to_env:
                    self.problem(where, f"`run` has no flag {flag}")
            worker_files.append((where, self.setting(env, flags, "CHANJING_ACCESS_TOKEN_FILE")))
            drain_text = self.setting(env, flags, "DRAIN_TIMEOUT")
            drain = seconds(drain_text) if drain_text else self.contract.drain_default
            if drain is None:
                self.problem(where, f"DRAIN_TIMEOUT {drain_text!r} is not a number of seconds")
                continue
            stop_values = service.get("TimeoutStopSec") or service.get("TimeoutSec") or []
            stop = systemd_seconds(stop_values[-1]) if stop_values else SYSTEMD_DEFAULT_STOP_SECONDS
            if stop is None:
                self.problem(where, f"TimeoutStopSec {stop_values[-1]!r} is not a time span")
            elif stop <= drain:
                self.problem(where, f"TimeoutStopSec ({stop:g} s) must exceed the drain timeout ({drain:g} s)")
        for refresher, written in refresher_files:
            for worker, read in worker_files:
                if written and read and written != read:
                    self.problem(worker, f"reads the token from {read}, but {refresher} writes {written}")

    def run(self):
        self.check_dockerfile()
        self.load_yaml()
        self.load_partitions()
        self.check_config_maps_and_secrets()
        run_pods = self.check_workloads()
        if self.of_kind(*WORKLOAD_KINDS) and not run_pods:
            self.problem(self.rel(self.deploy), "no workload runs `chanjing-worker run`")
        self.check_services(run_pods)
        self.check_selectors(run_pods)
        self.check_rbac()
        self.check_keda(run_pods)
        self.check_rules(run_pods)
        self.check_kustomizations()
        self.check_systemd()
        return self.problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deploy", required=True, type=Path, help="the deploy folder")
    parser.add_argument("--contract", required=True, type=Path, help="contract JSON written from the code")
    arguments = parser.parse_args(argv)
    if not arguments.deploy.is_dir():
        print(f"check_deploy: {arguments.deploy} is not a folder", file=sys.stderr)
        return 2
    try:
        contract = Contract(json.loads(arguments.contract.read_text(encoding="utf-8")))
    except (OSError, ValueError, ContractError) as error:
        print(f"check_deploy: cannot use the contract {arguments.contract}: {error}", file=sys.stderr)
        return 2
    checker = Checker(arguments.deploy, contract)
    problems = checker.run()
    for line in problems:
        print(line)
    stats = checker.stats

    def count(key, singular, plural=None):
        number = stats[key]
        return f"{number} {singular if number == 1 else plural or singular + 's'}"

    summary = (
        f"checked {count('manifests', 'manifest')} in {count('yaml files', 'YAML file')}, "
        f"{count('environment variables', 'env var')}, {count('ports', 'port')}, {count('probes', 'probe')}, "
        f"{count('alert rules', 'alert rule')} ({count('metric references', 'worker metric reference')}), "
        f"{count('KEDA triggers', 'KEDA trigger')}, {count('systemd units', 'systemd unit')}, "
        f"{count('env files', 'env file')}, {count('Dockerfiles', 'Dockerfile')}"
    )
    if problems:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}; {summary}", file=sys.stderr)
        return 1
    print(f"{summary}: no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
