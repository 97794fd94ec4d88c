#!/usr/bin/env bash
# Creates the worker pool's topics and ACLs with Apache Kafka's own tools (kafka-topics.sh,
# kafka-configs.sh, kafka-acls.sh). Safe to run again: topics are created only when missing, their
# configs are set again, ACLs are added only when missing. The worker never creates topics.
#
#   BOOTSTRAP=kafka-1:9093 COMMAND_CONFIG=admin.properties PRINCIPAL=User:video-worker \
#     deploy/topics/provision-topics.sh
#   DRY_RUN=1 deploy/topics/provision-topics.sh      # print the commands, run nothing
#
# Every setting is an environment variable; deploy/topics/README.md explains each choice.
set -euo pipefail

BOOTSTRAP=${BOOTSTRAP:-localhost:9092}
# Admin client properties (SASL/TLS) for the Kafka tools; see admin.properties.example.
COMMAND_CONFIG=${COMMAND_CONFIG:-}
# Folder of kafka-topics.sh and friends when they are not on PATH (e.g. /opt/kafka/bin).
KAFKA_BIN=${KAFKA_BIN:-}
DRY_RUN=${DRY_RUN:-0}

REQUESTS_TOPIC=${REQUESTS_TOPIC:-chanjing.video.requests}
RESULTS_TOPIC=${RESULTS_TOPIC:-chanjing.video.results}
LEDGER_TOPIC=${LEDGER_TOPIC:-chanjing.video.ledger}
COORDINATION_TOPIC=${COORDINATION_TOPIC:-chanjing.video.coordination}
COMPLETIONS_TOPIC=${COMPLETIONS_TOPIC:-chanjing.video.completions}
KAFKA_GROUP_ID=${KAFKA_GROUP_ID:-chanjing-worker}

# The largest useful pool: a worker beyond the partition count gets nothing to do. KEDA's
# maxReplicaCount (deploy/kubernetes/keda-scaledobject.yaml) must not exceed it.
PARTITIONS=${PARTITIONS:-12}
# The results topic's count is free (its consumers are not this pool); the requests' by default.
RESULTS_PARTITIONS=${RESULTS_PARTITIONS:-$PARTITIONS}
REPLICATION_FACTOR=${REPLICATION_FACTOR:-3}
MIN_INSYNC_REPLICAS=${MIN_INSYNC_REPLICAS:-2}

REQUESTS_RETENTION_MS=${REQUESTS_RETENTION_MS:-604800000}   # 7 days
RESULTS_RETENTION_MS=${RESULTS_RETENTION_MS:-1209600000}    # 14 days
LEDGER_RETENTION_MS=${LEDGER_RETENTION_MS:-$REQUESTS_RETENTION_MS}      # as long as a request can be redelivered
LEDGER_SEGMENT_MS=${LEDGER_SEGMENT_MS:-86400000}                        # 1 day
COORDINATION_RETENTION_MS=${COORDINATION_RETENTION_MS:-604800000}       # 7 days: several token lifetimes
COMPLETIONS_RETENTION_MS=${COMPLETIONS_RETENTION_MS:-$RESULTS_RETENTION_MS}

# The pool's principal (the SASL user of KAFKA_PROP_SASL_USERNAME), e.g. User:video-worker.
# Empty: no ACLs are added.
PRINCIPAL=${PRINCIPAL:-}
# Optional read-only principal for lag monitoring (a Kafka exporter, or KEDA with its own user).
MONITOR_PRINCIPAL=${MONITOR_PRINCIPAL:-}
# Optional principal of the operator tools (`enqueue`, `replay`, `lag`, `pool`); the pool's
# principal when they run from a worker's container with its credentials.
OPERATOR_PRINCIPAL=${OPERATOR_PRINCIPAL:-}

die() { echo "provision-topics: $*" >&2; exit 1; }
say() { echo "provision-topics: $*" >&2; }

for number in PARTITIONS RESULTS_PARTITIONS REPLICATION_FACTOR MIN_INSYNC_REPLICAS \
    REQUESTS_RETENTION_MS RESULTS_RETENTION_MS LEDGER_RETENTION_MS LEDGER_SEGMENT_MS COORDINATION_RETENTION_MS \
    COMPLETIONS_RETENTION_MS; do
    [[ ${!number} =~ ^[1-9][0-9]*$ ]] || die "$number must be a positive whole number, got '${!number}'"
done
(( MIN_INSYNC_REPLICAS <= REPLICATION_FACTOR )) \
    || die "MIN_INSYNC_REPLICAS ($MIN_INSYNC_REPLICAS) cannot exceed REPLICATION_FACTOR ($REPLICATION_FACTOR)"
if (( MIN_INSYNC_REPLICAS == REPLICATION_FACTOR && REPLICATION_FACTOR > 1 )); then
    say "warning: MIN_INSYNC_REPLICAS = REPLICATION_FACTOR: one broker down stops every acks=all write (results)"
fi
if (( REPLICATION_FACTOR < 3 || MIN_INSYNC_REPLICAS < 2 )); then
    say "warning: results are durable only with REPLICATION_FACTOR >= 3 and MIN_INSYNC_REPLICAS >= 2 (fine for a test cluster)"
fi
if [[ -n $COMMAND_CONFIG && ! -r $COMMAND_CONFIG ]]; then
    die "COMMAND_CONFIG '$COMMAND_CONFIG' is not a readable file"
fi

# Runs one of Kafka's tools with the connection options (or prints it with DRY_RUN=1).
kafka() {
    local tool=$1
    shift
    local command=("${KAFKA_BIN:+$KAFKA_BIN/}$tool" --bootstrap-server "$BOOTSTRAP")
    if [[ -n $COMMAND_CONFIG ]]; then command+=(--command-config "$COMMAND_CONFIG"); fi
    command+=("$@")
    if [[ $DRY_RUN == 1 ]]; then
        printf '%q ' "${command[@]}"
        printf '\n'
    else
        "${command[@]}"
    fi
}

# The partition count of an existing topic ("" when it does not exist).
partition_count() {
    { kafka kafka-topics.sh --describe --topic "$1" 2>/dev/null || true; } \
        | sed -n 's/.*PartitionCount:[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1
}

# Creates a topic when missing, then sets its configs (also on a topic that already existed).
ensure_topic() {
    local topic=$1 partitions=$2 configs=$3
    local create=(kafka-topics.sh --create --if-not-exists --topic "$topic"
        --partitions "$partitions" --replication-factor "$REPLICATION_FACTOR")
    local config config_list
    IFS=, read -r -a config_list <<< "$configs"
    for config in "${config_list[@]}"; do create+=(--config "$config"); done
    say "topic $topic: $partitions partitions, replication factor $REPLICATION_FACTOR, $configs"
    kafka "${create[@]}"
    kafka kafka-configs.sh --alter --entity-type topics --entity-name "$topic" --add-config "$configs"
}

common="min.insync.replicas=$MIN_INSYNC_REPLICAS,unclean.leader.election.enable=false"
ensure_topic "$REQUESTS_TOPIC" "$PARTITIONS" \
    "cleanup.policy=delete,retention.ms=$REQUESTS_RETENTION_MS,$common"
ensure_topic "$RESULTS_TOPIC" "$RESULTS_PARTITIONS" \
    "cleanup.policy=delete,retention.ms=$RESULTS_RETENTION_MS,$common"
# The submission ledger: partition p describes requests partition p, so it has exactly the
# requests topic's partition count. Its records batch many requests' entries under unique keys,
# so retention (not compaction) bounds it.
ensure_topic "$LEDGER_TOPIC" "$PARTITIONS" \
    "cleanup.policy=delete,retention.ms=$LEDGER_RETENTION_MS,segment.ms=$LEDGER_SEGMENT_MS,$common"
# The pool's token agreement: one partition, so every member reads claims and tokens in one
# order. Its records have no key (compaction would refuse them); retention bounds it.
ensure_topic "$COORDINATION_TOPIC" 1 \
    "cleanup.policy=delete,retention.ms=$COORDINATION_RETENTION_MS,segment.ms=86400000,$common"
# Completions of the followed tasks (video URLs), keyed like the results; with TRACK=off unused.
ensure_topic "$COMPLETIONS_TOPIC" "$RESULTS_PARTITIONS" \
    "cleanup.policy=delete,retention.ms=$COMPLETIONS_RETENTION_MS,$common"

# --if-not-exists leaves an existing topic's partitions alone: say when they differ.
if [[ $DRY_RUN != 1 ]]; then
    requests_partitions=$(partition_count "$REQUESTS_TOPIC")
    ledger_partitions=$(partition_count "$LEDGER_TOPIC")
    [[ -n $requests_partitions && -n $ledger_partitions ]] || die "cannot read the partition counts back"
    if [[ $requests_partitions != "$PARTITIONS" ]]; then
        say "warning: $REQUESTS_TOPIC has $requests_partitions partitions, not $PARTITIONS: KEDA's maxReplicaCount must not exceed $requests_partitions"
    fi
    if [[ $ledger_partitions != "$requests_partitions" ]]; then
        die "$LEDGER_TOPIC has $ledger_partitions partitions but $REQUESTS_TOPIC has $requests_partitions: they must be equal (see README.md)"
    fi
fi

if [[ -n $PRINCIPAL ]]; then
    say "ACLs for $PRINCIPAL"
    # Consume requests, commit offsets in the group (Read), and let KEDA read the lag (Describe);
    # its retention is compared with the ledger's at start-up (DescribeConfigs).
    kafka kafka-acls.sh --add --allow-principal "$PRINCIPAL" \
        --operation Read --operation Describe --operation DescribeConfigs --topic "$REQUESTS_TOPIC"
    kafka kafka-acls.sh --add --allow-principal "$PRINCIPAL" \
        --operation Read --operation Describe --group "$KAFKA_GROUP_ID"
    # Publish results with the idempotent producer.
    kafka kafka-acls.sh --add --allow-principal "$PRINCIPAL" \
        --operation Write --operation Describe --topic "$RESULTS_TOPIC"
    # The ledger is written and read back by the pool; its retention is read at start-up.
    kafka kafka-acls.sh --add --allow-principal "$PRINCIPAL" \
        --operation Read --operation Write --operation Describe --operation DescribeConfigs --topic "$LEDGER_TOPIC"
    # Publish completions of the followed tasks.
    kafka kafka-acls.sh --add --allow-principal "$PRINCIPAL" \
        --operation Write --operation Describe --topic "$COMPLETIONS_TOPIC"
    # Members append claims and sealed tokens and read them all back.
    kafka kafka-acls.sh --add --allow-principal "$PRINCIPAL" \
        --operation Read --operation Write --operation Describe --topic "$COORDINATION_TOPIC"
    # Idempotent producing on brokers before Kafka 2.8 (later ones need only Write on the topic).
    kafka kafka-acls.sh --add --allow-principal "$PRINCIPAL" --operation IdempotentWrite --cluster
fi

if [[ -n $MONITOR_PRINCIPAL ]]; then
    say "read-only ACLs for $MONITOR_PRINCIPAL"
    kafka kafka-acls.sh --add --allow-principal "$MONITOR_PRINCIPAL" \
        --operation Describe --topic "$REQUESTS_TOPIC"
    kafka kafka-acls.sh --add --allow-principal "$MONITOR_PRINCIPAL" \
        --operation Describe --group "$KAFKA_GROUP_ID"
fi
if [[ -n $OPERATOR_PRINCIPAL ]]; then
    say "ACLs of the operator tools for $OPERATOR_PRINCIPAL"
    # enqueue and replay produce requests; replay reads them back at their offsets.
    kafka kafka-acls.sh --add --allow-principal "$OPERATOR_PRINCIPAL" \
        --operation Read --operation Write --operation Describe --topic "$REQUESTS_TOPIC"
    # enqueue --wait and replay read results and completions, outside any group.
    kafka kafka-acls.sh --add --allow-principal "$OPERATOR_PRINCIPAL" \
        --operation Read --operation Describe --topic "$RESULTS_TOPIC"
    kafka kafka-acls.sh --add --allow-principal "$OPERATOR_PRINCIPAL" \
        --operation Read --operation Describe --topic "$COMPLETIONS_TOPIC"
    # pool reads the coordination topic; lag reads the group's committed offsets.
    kafka kafka-acls.sh --add --allow-principal "$OPERATOR_PRINCIPAL" \
        --operation Read --operation Describe --topic "$COORDINATION_TOPIC"
    kafka kafka-acls.sh --add --allow-principal "$OPERATOR_PRINCIPAL" \
        --operation Describe --group "$KAFKA_GROUP_ID"
    kafka kafka-acls.sh --add --allow-principal "$OPERATOR_PRINCIPAL" --operation IdempotentWrite --cluster
fi
say "done"
