#!/usr/bin/env python3
"""Checks what no schema or linter can: that deploy/ agrees with the worker's code.

    python3 Tests/Deploy/check_deploy.py --deploy deploy --contract CONTRACT.json

The contract is JSON written from the code (Tests/Deploy/sample-contract.json shows its form):
the options with their environment variables and defaults, the metric names, the HTTP port and
paths, the drain timeout's default, the subcommands and exit codes. Schemas and syntax are the
real tools' job (kubernetes-validate, promtool, shellcheck, in DeployManifestTests); this script
checks only the agreement between files and with the code: environment variables and flags are
options, ports and probes lead to the worker's HTTP port, grace periods exceed the drain timeout,
objects referred to exist, selectors select the workers, KEDA watches the workers' group and
topic, alert rules name metrics the worker exports. One line per problem; exit status 0 when
there is none, 1 when there are, 2 when the command line or the contract is unusable.
"""

import argparse
import json
import os
import re
import shlex
import sys
from collections import Counter
from pathlib import Path

import yaml

BINARY = "chanjing-worker"
# ConfigMaps and Secrets carrying this annotation are not environment variables (e.g. a CA file).
NOT_ENV_ANNOTATION = "deploy-check/not-env"
KUBERNETES_DEFAULT_GRACE_SECONDS = 30
SYSTEMD_DEFAULT_STOP_SECONDS = 90
KEDA_DEFAULT_MAX_REPLICAS = 100
SASL_MECHANISM_TO_KEDA = {
    "PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512", "OAUTHBEARER": "oauthbearer", "GSSAPI": "gssapi",
}
# Metrics outside the worker that tell its group's lag even when no worker runs.
EXTERNAL_LAG_METRICS = ("kafka_consumergroup_lag", "keda_scaler_metrics_value")


class Contract:
    def __init__(self, data):
        self.metrics = set(data["metrics"])
        self.port = int(data["http"]["port"])
        self.paths = data["http"]
        self.drain_default = float(data["drain_timeout_default_seconds"])
        self.subcommands = set(data["subcommands"])
        self.configuration_exit = data["exit_codes"]["configuration"]
        self.env_names, self.env_patterns, self.flag_to_env, self.defaults = set(), [], {}, {}
        for option in data["options"]:
            env = option["environment"]
            if "<" in env:  # KAFKA_PROP_<NAME>
                self.env_patterns.append(re.compile("^" + re.sub(r"<[A-Z_]+>", "[A-Z0-9_]+", env) + "$"))
            else:
                self.env_names.add(env)
                self.defaults[env] = option.get("default") or ""
            if option.get("flag"):
                self.flag_to_env[option["flag"]] = env

    def knows_env(self, name):
        return name in self.env_names or any(pattern.match(name) for pattern in self.env_patterns)

    def knows_metric(self, name):
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        return name in self.metrics or (base in self.metrics and not base.endswith("_total"))


class StrictLoader(yaml.SafeLoader):
    """Refuses duplicate keys, as the API server's strict decoding does (kubernetes-validate does not)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        if duplicates := sorted({key for key in keys if keys.count(key) > 1}, key=str):
            raise yaml.constructor.ConstructorError(None, None, f"duplicate keys {duplicates}", node.start_mark)
        return super().construct_mapping(node, deep=deep)


def seconds(text):
    """Seconds from an option's value or a systemd time span ("60", "90s", "1min 30s"); None if neither."""
    units = {"": 1, "s": 1, "sec": 1, "ms": 1e-3, "m": 60, "min": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", str(text).strip())
    if not parts or re.sub(r"[\d.\sa-z]", "", str(text)) or any(unit not in units for _, unit in parts):
        return None
    return sum(float(number) * units[unit] for number, unit in parts)


def selects(selector, labels):
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def flag_values(argv):
    """{flag: value} of `--flag value` and `--flag=value` arguments."""
    values, index = {}, 0
    while index < len(argv):
        argument = argv[index]
        if argument.startswith("--"):
            flag, equals, value = argument.partition("=")
            if not equals and index + 1 < len(argv) and not argv[index + 1].startswith("--"):
                index += 1
                value = argv[index]
            values[flag] = value
        index += 1
    return values


class Process:
    """One way the worker's binary is started: a container or a systemd unit."""

    def __init__(self, where, subcommand, flags, env, contract):
        self.where, self.subcommand, self.flags, self.env, self.contract = where, subcommand, flags, env, contract

    def setting(self, name):
        """The value the worker resolves for the option with environment variable `name`; None
        when it comes from a Secret this folder only templates."""
        for flag, env_name in self.contract.flag_to_env.items():
            if env_name == name and flag in self.flags:
                return self.flags[flag]
        if name in self.env:
            return self.env[name]
        return self.contract.defaults.get(name, "")

    def seconds(self, name):
        value = self.setting(name)
        return seconds(value or self.contract.defaults.get(name) or "nan")


class Checker:
    def __init__(self, deploy, contract):
        self.deploy, self.contract = deploy, contract
        self.problems, self.stats = [], Counter()
        self.objects = {}  # (kind, name) -> (file, document)
        self.default_argv = []

    def problem(self, where, message):
        line = f"{where}: {message}"
        if line not in self.problems:
            self.problems.append(line)

    def files(self, pattern):
        return sorted(p for p in self.deploy.rglob(pattern) if p.is_file())

    def of_kind(self, kind):
        return [(name, file, doc) for (k, name), (file, doc) in self.objects.items() if k == kind]

    def need(self, where, kind, name):
        """Reports `kind/name` missing from the folder; returns its document."""
        found = self.objects.get((kind, name))
        if found is None and (kind, name) not in {("ConfigMap", "kube-root-ca.crt"), ("ServiceAccount", "default")}:
            self.problem(where, f"{kind} {name!r} is not defined in the deploy folder")
        return found[1] if found else None

    def load(self):
        for path in self.files("*.yaml"):
            try:
                documents = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=StrictLoader))
            except yaml.YAMLError as error:
                self.problem(os.path.relpath(path), " ".join(str(error).split()))
                continue
            for document in documents:
                if document and document.get("kind") != "Kustomization":
                    self.objects[(document["kind"], document["metadata"]["name"])] = (os.path.relpath(path), document)
                    self.stats["manifests"] += 1
                elif document:
                    self.check_kustomization(path, document)

    def check_kustomization(self, path, kustomization):
        listed = {os.path.normpath(path.parent / resource) for resource in kustomization.get("resources") or []}
        for resource in listed:
            if not os.path.exists(resource):
                self.problem(os.path.relpath(path), f"resource {os.path.relpath(resource)} does not exist")
        for sibling in sorted(path.parent.glob("*.yaml")):
            if sibling.name != path.name and ".template." not in sibling.name and os.path.normpath(sibling) not in listed:
                self.problem(os.path.relpath(path), f"does not list {sibling.name}: `kubectl apply -k` would leave it out")

    # Environment variables and flags

    def check_env_names(self, where, names):
        for name in names:
            self.stats["environment variables"] += 1
            if not self.contract.knows_env(name):
                self.problem(where, f"{name} is not an environment variable of any option")

    def data(self, document):
        """A ConfigMap's or Secret's keys; values, except a Secret's (templated here)."""
        if document["kind"] == "Secret":
            return {key: None for key in {**(document.get("data") or {}), **(document.get("stringData") or {})}}
        return {key: str(value) for key, value in (document.get("data") or {}).items()}

    def container_env(self, where, container):
        env = {}
        for source in container.get("envFrom") or []:
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in source and (document := self.need(where, kind, source[key]["name"])):
                    env.update({source.get("prefix", "") + name: value for name, value in self.data(document).items()})
        for entry in container.get("env") or []:
            self.check_env_names(where, [entry["name"]])
            env[entry["name"]] = entry.get("value")
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                reference = (entry.get("valueFrom") or {}).get(key)
                if reference and not reference.get("optional") and (document := self.need(where, kind, reference["name"])) and reference["key"] not in self.data(document):
                    self.problem(where, f"env {entry['name']}: {kind} {reference['name']!r} has no key {reference['key']!r}")
        return env

    def process(self, where, argv, env):
        """Checks the subcommand, its flags and its credentials; returns the Process."""
        subcommand = argv[0] if argv else None
        flags = flag_values(argv[1:])
        if subcommand not in self.contract.subcommands:
            self.problem(where, f"runs subcommand {subcommand!r}, which is not one of {sorted(self.contract.subcommands)}")
        elif subcommand == "run":
            for flag in flags:
                if flag not in self.contract.flag_to_env:
                    self.problem(where, f"`run` has no flag {flag}")
        kinds = [bool({"CHANJING_APP_ID", "CHANJING_SECRET_KEY"} & set(env)), "CHANJING_ACCESS_TOKEN" in env, "CHANJING_ACCESS_TOKEN_FILE" in env]
        if subcommand == "run" and sum(kinds) != 1:
            self.problem(where, "must set exactly one kind of Chanjing credentials (app ID and key, CHANJING_ACCESS_TOKEN or CHANJING_ACCESS_TOKEN_FILE)")
        if subcommand == "token-refresher" and not {"CHANJING_APP_ID", "CHANJING_SECRET_KEY"} <= set(env):
            self.problem(where, "the token refresher needs CHANJING_APP_ID and CHANJING_SECRET_KEY")
        return Process(where, subcommand, flags, env, self.contract)

    # Kubernetes

    def check_kubernetes(self):
        for kind in ("ConfigMap", "Secret"):
            for name, file, document in self.of_kind(kind):
                if str((document["metadata"].get("annotations") or {}).get(NOT_ENV_ANNOTATION, "")).lower() != "true":
                    self.check_env_names(f"{file}: {kind}/{name}", self.data(document))
        workers, pods = [], []
        for name, file, deployment in self.of_kind("Deployment"):
            where = f"{file}: Deployment/{name}"
            spec, template = deployment["spec"], deployment["spec"]["template"]
            labels, pod = template["metadata"].get("labels") or {}, template["spec"]
            pods.append((name, labels))
            if not selects(spec["selector"].get("matchLabels"), labels):
                self.problem(where, f"selector {spec['selector']} does not match its pod labels {labels}")
            if pod.get("serviceAccountName"):
                self.need(where, "ServiceAccount", pod["serviceAccountName"])
            for volume in pod.get("volumes") or []:
                for source in [volume] + (volume.get("projected") or {}).get("sources", []):
                    if "secret" in source:
                        self.need(where, "Secret", source["secret"].get("secretName", source["secret"].get("name")))
                    if "configMap" in source:
                        self.need(where, "ConfigMap", source["configMap"]["name"])
            for container in pod["containers"]:
                if not re.search(rf"(^|/){BINARY}[:@]", container["image"]):
                    continue
                inner = f"{where} container {container['name']}"
                process = self.process(inner, [str(a) for a in container.get("args") or self.default_argv], self.container_env(inner, container))
                port = self.check_http(inner, process, container, template["metadata"].get("annotations") or {})
                mounts = [mount["mountPath"].rstrip("/") + "/" for mount in container.get("volumeMounts") or []]
                for path in (process.flags.get("--file"), process.setting("CHANJING_ACCESS_TOKEN_FILE")):
                    if path and not any(path.startswith(mount) for mount in mounts):
                        self.problem(inner, f"{path} is on no volume mount")
                if process.subcommand == "run":
                    workers.append((name, labels, container, process, port))
                    self.check_grace(where, process, pod.get("terminationGracePeriodSeconds", KUBERNETES_DEFAULT_GRACE_SECONDS))
                elif process.subcommand == "token-refresher" and (spec.get("replicas", 1) != 1 or spec.get("strategy", {}).get("type") != "Recreate"):
                    self.problem(where, "exactly one token refresher may run: replicas 1 and strategy Recreate")
        if not workers:
            self.problem(str(self.deploy), "no Deployment runs `chanjing-worker run`")
            return
        self.check_selectors(workers, pods)
        self.check_keda(workers)
        self.check_rules(workers[0][3])
        for name, file, binding in self.of_kind("RoleBinding"):
            self.need(f"{file}: RoleBinding/{name}", binding["roleRef"]["kind"], binding["roleRef"]["name"])
            for subject in binding.get("subjects") or []:
                self.need(f"{file}: RoleBinding/{name}", subject["kind"], subject["name"])
        for name, file, role in self.of_kind("Role"):
            for rule in role.get("rules") or []:
                for secret in rule.get("resourceNames") or [] if "secrets" in rule.get("resources", []) else []:
                    self.need(f"{file}: Role/{name}", "Secret", secret)

    def check_http(self, where, process, container, annotations):
        """The worker's HTTP port: declared, probed and scraped; returns it."""
        port = self.contract.port
        if process.subcommand == "run" and process.setting("HTTP_PORT"):
            port = int(process.setting("HTTP_PORT")) if str(process.setting("HTTP_PORT")).isdigit() else None
            if not port:
                self.problem(where, "HTTP_PORT must be a fixed port number: nothing can probe port 0")
                return None
        elif "--http-port" in process.flags:
            port = int(process.flags["--http-port"])
        names = {p.get("name"): p["containerPort"] for p in container.get("ports") or []}
        self.stats["ports"] += 1
        if port not in names.values():
            self.problem(where, f"declares container ports {sorted(names.values())}, not the HTTP port {port}")
        paths = self.contract.paths
        for probe, expected in (("livenessProbe", paths["liveness"]), ("readinessProbe", paths["readiness"]), ("startupProbe", paths["liveness"])):
            http = (container.get(probe) or {}).get("httpGet")
            if probe == "livenessProbe" or (probe == "readinessProbe" and process.subcommand == "run") or http:
                self.stats["probes"] += 1
                if not http or http.get("path") != expected or names.get(http.get("port"), http.get("port")) != port:
                    self.problem(where, f"{probe} must be an httpGet of {expected} on the HTTP port {port}")
        if annotations.get("prometheus.io/port", str(port)) != str(port) or annotations.get("prometheus.io/path", paths["metrics"]) != paths["metrics"]:
            self.problem(where, f"the prometheus.io annotations must name port {port} and path {paths['metrics']}")
        return port

    def check_grace(self, where, process, grace):
        drain, submit = process.seconds("DRAIN_TIMEOUT"), process.seconds("CHANJING_SUBMIT_TIMEOUT")
        if not grace > drain:
            self.problem(where, f"the grace period ({grace} s) must exceed the drain timeout ({drain:g} s)")
        if not drain > submit:
            self.problem(where, f"DRAIN_TIMEOUT ({drain:g} s) must exceed CHANJING_SUBMIT_TIMEOUT ({submit:g} s): the worker refuses to start")

    def check_selectors(self, workers, pods):
        """The Service and the PodDisruptionBudget select the workers, the ServiceMonitor the Service;
        their ports lead to the HTTP port."""
        worker_names = {name for name, *_ in workers}
        _, _, container, _, port = workers[0]
        named = {declared.get("name"): declared["containerPort"] for declared in container.get("ports") or []}
        for kind in ("Service", "PodDisruptionBudget"):
            for name, file, document in self.of_kind(kind):
                where, selector = f"{file}: {kind}/{name}", document["spec"]["selector"]
                selector = selector.get("matchLabels", selector)
                if {pod for pod, labels in pods if selects(selector, labels)} != worker_names:
                    self.problem(where, f"selector {selector} does not select exactly the workers {sorted(worker_names)}")
                for service_port in document["spec"].get("ports") or []:
                    self.stats["ports"] += 1
                    target = service_port.get("targetPort", service_port["port"])
                    if named.get(target, target) != port:
                        self.problem(where, f"port {service_port.get('name')!r} does not lead to the HTTP port {port}")
        for name, file, monitor in self.of_kind("ServiceMonitor"):
            where, selector = f"{file}: ServiceMonitor/{name}", monitor["spec"]["selector"].get("matchLabels")
            services = [service for _, _, service in self.of_kind("Service") if selects(selector, service["metadata"].get("labels") or {})]
            if not services:
                self.problem(where, f"selector {selector} matches no Service")
            service_ports = {declared.get("name"): declared for service in services for declared in service["spec"]["ports"]}
            for endpoint in monitor["spec"]["endpoints"]:
                self.stats["ports"] += 1
                target = service_ports.get(endpoint.get("port"), {}).get("targetPort")
                if endpoint.get("path") != self.contract.paths["metrics"] or named.get(target, target) != port:
                    self.problem(where, f"must scrape {self.contract.paths['metrics']} through a Service port leading to the HTTP port {port}")

    def check_keda(self, workers):
        partitions = None
        for script in self.files("*.sh"):
            if match := re.search(r"^PARTITIONS=\$\{PARTITIONS:-(\d+)\}", script.read_text(encoding="utf-8"), re.M):
                partitions = int(match.group(1))
        for name, file, scaled in self.of_kind("ScaledObject"):
            where, spec = f"{file}: ScaledObject/{name}", scaled["spec"]
            target = [w for w in workers if w[0] == spec["scaleTargetRef"]["name"]]
            if not target:
                self.problem(where, f"scales {spec['scaleTargetRef']['name']!r}, which runs no `run` worker")
                continue
            process = target[0][3]
            maximum = spec.get("maxReplicaCount", KEDA_DEFAULT_MAX_REPLICAS)
            if partitions is None or maximum > partitions:
                self.problem(where, f"maxReplicaCount {maximum} exceeds the {partitions} partitions of deploy/topics/provision-topics.sh")
            for trigger in spec["triggers"]:
                self.stats["KEDA triggers"] += 1
                metadata = trigger["metadata"]
                for key, env_name in (("consumerGroup", "KAFKA_GROUP_ID"), ("topic", "REQUESTS_TOPIC"), ("offsetResetPolicy", "KAFKA_AUTO_OFFSET_RESET")):
                    if metadata.get(key) != process.setting(env_name):
                        self.problem(where, f"trigger {key} {metadata.get(key)!r} is not the workers' {env_name} {process.setting(env_name)!r}")
                brokers = process.setting("KAFKA_BROKERS")
                if brokers is not None and set(brokers.split(",")) != set(metadata.get("bootstrapServers", "").split(",")):
                    self.problem(where, f"trigger bootstrapServers {metadata.get('bootstrapServers')!r} are not the workers' KAFKA_BROKERS {brokers!r}")
                if float(metadata.get("lagThreshold", "5")) < 2 * float(process.setting("MAX_IN_FLIGHT")):
                    self.problem(where, "lagThreshold is below twice MAX_IN_FLIGHT (the requests a worker holds): its own uncommitted requests would count as backlog")
                if metadata.get("allowIdleConsumers", "false") != "false":
                    self.problem(where, "allowIdleConsumers lets the pool grow past the partition count")
                self.check_kafka_security(where, process, trigger)

    def check_kafka_security(self, where, process, trigger):
        """The trigger reaches Kafka as the workers do (KEDA ≥ 2.10 reads sasl and tls from its TriggerAuthentication)."""
        auth = {}
        if reference := trigger.get("authenticationRef"):
            document = self.need(where, "TriggerAuthentication", reference["name"])
            for entry in (document or {}).get("spec", {}).get("secretTargetRef") or []:
                secret = self.need(where, "Secret", entry["name"])
                if secret is not None and entry["key"] not in self.data(secret):
                    self.problem(where, f"Secret {entry['name']!r} has no key {entry['key']!r}")
                auth[entry["parameter"]] = (secret or {}).get("stringData", {}).get(entry["key"])
        protocol = (process.env.get("KAFKA_PROP_SECURITY_PROTOCOL") or "").upper()
        mechanism = (process.env.get("KAFKA_PROP_SASL_MECHANISMS") or "GSSAPI").upper()
        if protocol.startswith("SASL") and auth.get("sasl") not in (None, SASL_MECHANISM_TO_KEDA.get(mechanism)):
            self.problem(where, f"trigger sasl {auth['sasl']!r} does not match the workers' SASL mechanism {mechanism}")
        if protocol and auth.get("tls") not in (None, "enable" if protocol in ("SSL", "SASL_SSL") else "disable"):
            self.problem(where, f"trigger tls {auth['tls']!r} does not match the workers' security protocol {protocol}")
        if protocol.startswith("SASL") and mechanism != "GSSAPI" and not {"username", "password"} <= set(auth):
            self.problem(where, "the workers use SASL but the trigger's authentication gives no username and password")

    def check_rules(self, worker):
        """Metric names and label values; promtool checks the syntax and, with its unit tests, that each alert fires."""
        group, topic = worker.setting("KAFKA_GROUP_ID"), worker.setting("REQUESTS_TOPIC")
        expressions = [
            (f"{file}: PrometheusRule/{name} rule {rule.get('alert') or rule.get('record')}", str(rule["expr"]))
            for name, file, document in self.of_kind("PrometheusRule")
            for rule_group in document["spec"]["groups"]
            for rule in rule_group["rules"]
        ]
        bare = {where: re.sub(r'"(?:[^"\\]|\\.)*"', '""', expression) for where, expression in expressions}
        for where, expression in expressions:
            self.stats["alert rules"] += 1
            for metric in sorted(set(re.findall(r"\bchanjing_worker_\w*", bare[where]))):
                self.stats["metric references"] += 1
                if not self.contract.knows_metric(metric):
                    self.problem(where, f"uses metric {metric}, which the worker does not export")
            for metric, label, value in re.findall(r'(\w+)\s*\{[^}]*?\b(consumergroup|topic|scaledObject)\s*=\s*"([^"]*)"', expression):
                expected = {"consumergroup": group, "topic": topic}.get(label)
                if label == "scaledObject" and ("ScaledObject", value) not in self.objects:
                    self.problem(where, f"selects ScaledObject {value!r}, which is not defined in the deploy folder")
                elif "lag" in metric and expected is not None and value != expected:
                    self.problem(where, f"selects {label} {value!r}, but the workers use {expected!r}")
        if expressions and not any(re.search(rf"\b({'|'.join(EXTERNAL_LAG_METRICS)})\b", text) for text in bare.values()):
            self.problem(expressions[0][0], "no alert watches the lag from outside the workers: lag alerts go silent when every worker is down")
        if expressions and not any(re.search(r"\babsent\s*\(\s*chanjing_worker_", text) for text in bare.values()):
            self.problem(expressions[0][0], "no absent(chanjing_worker_...) alert: nothing fires when no worker is scraped")

    # The image and systemd

    def check_dockerfile(self):
        path = self.deploy / "Dockerfile"
        where = os.path.relpath(path)
        instructions = [
            line.strip().split(None, 1) for line in re.sub(r"\\\n", " ", path.read_text(encoding="utf-8")).splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        starts = [index for index, (keyword, _) in enumerate(instructions) if keyword.upper() == "FROM"]
        arguments = dict(rest.split("=", 1) for keyword, rest in instructions[: starts[0]] if keyword.upper() == "ARG" and "=" in rest)
        images = [re.sub(r"\$\{?(\w+)\}?", lambda m: arguments.get(m.group(1), m.group(0)), instructions[index][1].split()[0]) for index in starts]
        runtime = " ".join(rest for _, rest in instructions[starts[-1]:])
        if not all("bookworm" in image for image in images) or not re.search(r"\blibrdkafka1\b", runtime):
            self.problem(where, "every stage must be Debian bookworm and the last install librdkafka1 (the binding expects bookworm's librdkafka 2.0.2)")
        last = {keyword.upper(): rest for keyword, rest in instructions}
        self.stats["ports"] += 1
        if last.get("EXPOSE") != str(self.contract.port):
            self.problem(where, f"EXPOSE {last.get('EXPOSE')} is not the HTTP port {self.contract.port}")
        for keyword in ("ENTRYPOINT", "CMD"):
            try:
                value = json.loads(last.get(keyword, ""))
            except ValueError:
                value = None
            if not isinstance(value, list):
                self.problem(where, f"{keyword} must be in exec form (a JSON array): SIGTERM would go to a shell, not the worker")
            elif keyword == "ENTRYPOINT" and value != [BINARY]:
                self.problem(where, f"ENTRYPOINT {value} does not start {BINARY}")
            elif keyword == "CMD":
                self.process(where, value, {"CHANJING_APP_ID": None})
                self.default_argv = value

    def check_systemd(self):
        env_files = {path.name.removesuffix(".example"): path for path in self.files("*.env.example")}
        for path in env_files.values():
            self.stats["env files"] += 1
            self.check_env_names(os.path.relpath(path), self.env_file(path))
        for path in self.files("*.service"):
            where, service = os.path.relpath(path), {}
            self.stats["systemd units"] += 1
            body = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8")).split("[Service]", 1)[1].split("\n[", 1)[0]
            for line in body.splitlines():
                if "=" in line and not line.lstrip().startswith("#"):
                    key, value = line.split("=", 1)
                    service.setdefault(key.strip(), []).append(value.strip())
            env = {}
            for value in service.get("EnvironmentFile", []):
                name = os.path.basename(value.lstrip("-"))
                if name in env_files:
                    env.update(self.env_file(env_files[name]))
                elif not value.startswith("-"):
                    self.problem(where, f"EnvironmentFile {value} has no {name}.example in the deploy folder")
            argv = shlex.split(service["ExecStart"][0])
            process = self.process(where, argv[1:], env)
            if str(self.contract.configuration_exit) not in " ".join(service.get("RestartPreventExitStatus", [])).split():
                self.problem(where, f"RestartPreventExitStatus must hold {self.contract.configuration_exit}: a bad configuration would restart forever")
            if process.subcommand == "run":
                drain, stop = process.seconds("DRAIN_TIMEOUT"), seconds(service.get("TimeoutStopSec", [SYSTEMD_DEFAULT_STOP_SECONDS])[-1])
                if stop is None or stop <= drain:
                    self.problem(where, f"TimeoutStopSec must exceed the drain timeout ({drain:g} s)")

    def env_file(self, path):
        pairs = [line.strip().partition("=") for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.strip().startswith("#")]
        return {name: value.strip("\"'") for name, _, value in pairs}

    def run(self):
        self.check_dockerfile()
        self.load()
        self.check_kubernetes()
        self.check_systemd()
        return self.problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deploy", required=True, type=Path, help="the deploy folder")
    parser.add_argument("--contract", required=True, type=Path, help="contract JSON written from the code")
    arguments = parser.parse_args(argv)
    try:
        contract = Contract(json.loads(arguments.contract.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        print(f"check_deploy: cannot use the contract {arguments.contract}: {error!r}", file=sys.stderr)
        return 2
    checker = Checker(arguments.deploy, contract)
    problems = checker.run()
    print("\n".join(problems + [", ".join(f"{number} {what}" for what, number in sorted(checker.stats.items()))]))
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("checked: no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
