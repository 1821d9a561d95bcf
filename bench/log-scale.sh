#!/usr/bin/env bash
# Benchmark: `log -A` and `history deploy -A` at cluster scale, each against the baseline `kubectl
# get replicasets,controllerrevisions -A -o json` (the objects both read), in the same run, on the
# local control plane.
#
# The fixture: 1,000 Deployments with 3 revisions each, plus 50 StatefulSets and 50 DaemonSets
# with 3 revisions each, in one namespace. Nothing runs: Deployments and StatefulSets have no
# replicas and DaemonSets a node selector no node matches, yet the controllers make every revision.
# The time to create it is reported.
#
# Measured, for each of the three commands:
#   - API requests, counted from their -v=6 logs (one line per request; kubectl's discovery
#     requests count too, after a warm-up run that fills its cache), and of them the LISTs (a
#     page after the first carries a continue token; all three page by 500);
#   - wall time with hyperfine (warm-up runs, then the median of the runs), as a ratio to kubectl;
#   - peak RSS with /usr/bin/time -v.
# Targets (issue 22): at most 2x the number of kinds in LISTs, at most 0.5x kubectl's wall time,
# at most 96 MB peak RSS.
#
# Run from anywhere in the repo:  bash bench/log-scale.sh
# Smaller fixtures, to try it quickly: BENCH_DEPLOYMENTS=100 BENCH_SETS=10 bash bench/log-scale.sh
# With GITROLLOUT_BENCH_KUBECONFIG (and GITROLLOUT_BENCH_KUBECTL) it uses that cluster; else it
# starts the local control plane if it is not running. It builds the plugin in release mode,
# installs hyperfine with apt-get if missing, and deletes its namespace at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly NAMESPACE=gitrollout-log-bench
readonly DEPLOYMENTS=${BENCH_DEPLOYMENTS:-1000}
readonly SETS=${BENCH_SETS:-50}
readonly CHUNK=200
readonly WARMUP=2
readonly RUNS=${BENCH_RUNS:-10}

if [[ -n ${GITROLLOUT_BENCH_KUBECONFIG:-} ]]; then
    export KUBECONFIG=$GITROLLOUT_BENCH_KUBECONFIG
    KUBECTL=${GITROLLOUT_BENCH_KUBECTL:-kubectl}
else
    eval "$(cargo xtask cluster up)"
    KUBECTL=$PWD/target/cluster/kubectl
fi
readonly KUBECTL
cargo build --release -p kubectl-gitrollout
readonly PLUGIN=$PWD/target/release/kubectl-gitrollout

if ! command -v hyperfine >/dev/null; then
    echo "installing hyperfine" >&2
    if ! { apt-get update -qq && apt-get install -y -qq hyperfine; } >&2; then
        echo "error: hyperfine is needed and could not be installed with apt-get;" \
            "install it (https://github.com/sharkdp/hyperfine) and run again" >&2
        exit 1
    fi
fi
if [[ ! -x /usr/bin/time ]]; then
    echo "error: /usr/bin/time (GNU time) is needed for peak RSS: apt-get install time" >&2
    exit 1
fi

k() {
    "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"
}

tmp=$(mktemp -d)
cleanup() {
    echo "== deleting namespace $NAMESPACE" >&2
    k delete namespace "$NAMESPACE" --ignore-not-found --wait=false >/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for COUNT RESOURCE: until the namespace holds COUNT objects of RESOURCE (the controllers
# make revisions at their clients' rate, 20 requests a second).
wait_for() {
    local deadline=$((SECONDS + 900)) count
    while :; do
        count=$(k -n "$NAMESPACE" get "$2" --no-headers 2>/dev/null | wc -l)
        ((count >= $1)) && return
        if ((SECONDS > deadline)); then
            echo "error: expected $1 $2, found $count after 900 s" >&2
            exit 1
        fi
        sleep 2
    done
}

echo "== creating $DEPLOYMENTS Deployments, $SETS StatefulSets and $SETS DaemonSets" \
    "with 3 revisions each in $NAMESPACE" >&2
started=$SECONDS
k delete namespace "$NAMESPACE" --wait --ignore-not-found >/dev/null
k create namespace "$NAMESPACE" >/dev/null
python3 - "$tmp" "$DEPLOYMENTS" "$SETS" "$CHUNK" <<'PY'
import json, sys

tmp, deployments, sets, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])

def workload(kind, name):
    labels = {"app": name}
    spec = {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.0"}]},
        },
    }
    if kind == "DaemonSet":
        spec["template"]["spec"]["nodeSelector"] = {"gitrollout-bench": "no-such-node"}
    else:
        spec["replicas"] = 0
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}

objects = [workload("Deployment", f"app-{n:04d}") for n in range(deployments)]
objects += [workload("StatefulSet", f"db-{n:03d}") for n in range(sets)]
objects += [workload("DaemonSet", f"agent-{n:03d}") for n in range(sets)]
for start in range(0, len(objects), chunk):
    with open(f"{tmp}/objects-{start:05d}.json", "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": objects[start:start + chunk]}, f)
PY
for list in "$tmp"/objects-*.json; do
    k -n "$NAMESPACE" create -f "$list" >/dev/null
done
wait_for "$DEPLOYMENTS" replicasets
wait_for $((2 * SETS)) controllerrevisions
for round in 2 3; do
    k -n "$NAMESPACE" set image deployments,statefulsets,daemonsets --all \
        "nginx=nginx:1.$round" >/dev/null
    wait_for $((round * DEPLOYMENTS)) replicasets
    wait_for $((round * 2 * SETS)) controllerrevisions
done
readonly FIXTURE_SECONDS=$((SECONDS - started))

# Each command, from a directory outside any repository (the plugin would otherwise look for
# commits in this one), with the same kubeconfig.
cd "$tmp"
log_cmd=("$PLUGIN" --kubeconfig "$KUBECONFIG" log -A --since 0 -o json)
history_cmd=("$PLUGIN" --kubeconfig "$KUBECONFIG" history deploy -A -o json)
kubectl_cmd=("$KUBECTL" --kubeconfig "$KUBECONFIG" get replicasets,controllerrevisions -A -o json)

# The plugin's log has every revision of the fixture.
listed=$("${log_cmd[@]}" | python3 -c '
import json, sys
items = json.load(sys.stdin)["items"]
print(sum(1 for i in items if i["namespace"] == sys.argv[1]))' "$NAMESPACE")
expected=$((3 * (DEPLOYMENTS + 2 * SETS)))
if ((listed != expected)); then
    echo "error: log -A lists $listed revisions in $NAMESPACE, expected $expected" >&2
    exit 1
fi

echo "== counting requests (-v=6)" >&2
"${kubectl_cmd[@]}" >/dev/null # fills kubectl's discovery cache, as hyperfine's warm-up will
"${log_cmd[@]}" -v=6 2>"$tmp/log.v6" >/dev/null
"${history_cmd[@]}" -v=6 2>"$tmp/history.v6" >/dev/null
"${kubectl_cmd[@]}" -v=6 2>"$tmp/kubectl.v6" >/dev/null
# Requests, and LISTs: the requests that start one (a page after the first carries `continue=`).
requests() { grep -E "$2" "$1" | grep -cv "$3" || true; }
requests_log=$(grep -cE '^(GET|POST|PUT|PATCH) https?://' "$tmp/log.v6" || true)
requests_history=$(grep -cE '^(GET|POST|PUT|PATCH) https?://' "$tmp/history.v6" || true)
requests_kubectl=$(grep -cE '"Response" verb=' "$tmp/kubectl.v6" || true)
lists_log=$(requests "$tmp/log.v6" '^GET https?://' 'continue=')
lists_history=$(requests "$tmp/history.v6" '^GET https?://' 'continue=')
lists_kubectl=$(requests "$tmp/kubectl.v6" '"Response" verb="GET"' 'continue=')

echo "== peak RSS (/usr/bin/time -v)" >&2
rss() {
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident set size/ { print $NF }'
}
rss_log=$(rss "${log_cmd[@]}")
rss_history=$(rss "${history_cmd[@]}")
rss_kubectl=$(rss "${kubectl_cmd[@]}")

echo "== wall time (hyperfine)" >&2
printf -v log_line '%q ' "${log_cmd[@]}"
printf -v history_line '%q ' "${history_cmd[@]}"
printf -v kubectl_line '%q ' "${kubectl_cmd[@]}"
hyperfine --shell=none --warmup "$WARMUP" --runs "$RUNS" --export-json "$tmp/times.json" \
    --output=null \
    --command-name kubectl "$kubectl_line" \
    --command-name log "$log_line" \
    --command-name history "$history_line" >&2

echo "== summary: $DEPLOYMENTS Deployments x 3 revisions + $SETS StatefulSets and $SETS" \
    "DaemonSets x 3 (fixture made in ${FIXTURE_SECONDS} s)"
python3 - "$tmp/times.json" "$requests_log" "$requests_history" "$requests_kubectl" \
    "$rss_log" "$rss_history" "$rss_kubectl" "$lists_log" "$lists_history" "$lists_kubectl" <<'PY'
import json, statistics, sys

times = {r["command"]: statistics.median(r["times"]) * 1000
         for r in json.load(open(sys.argv[1]))["results"]}
commands = ("log", "history", "kubectl")
requests = dict(zip(commands, map(int, sys.argv[2:5])))
rss = dict(zip(commands, (int(v) / 1024 for v in sys.argv[5:8])))
lists = dict(zip(commands, map(int, sys.argv[8:11])))
# Kinds: log reads three workload kinds, history deploy -A one. The target, 2x the kinds, is one
# LIST of each kind and one of its revision objects; each LIST is as many pages of 500 as it takes.
kinds = {"log": 3, "history": 1}
print("requests: every page; LISTs: requests without a continue token")
print(f"{'command':<47}{'requests':>9}{'LISTs':>6}{'median ms':>11}{'ratio':>7}{'peak RSS MB':>13}")
names = {
    "kubectl": "kubectl get replicasets,controllerrevisions -A",
    "log": "gitrollout log -A --since 0 -o json",
    "history": "gitrollout history deploy -A -o json",
}
for command in ("kubectl", "log", "history"):
    ratio = times[command] / times["kubectl"]
    print(f"{names[command]:<47}{requests[command]:>9}{lists[command]:>6}{times[command]:>11.1f}"
          f"{ratio:>6.2f}x{rss[command]:>13.1f}")
for command in ("log", "history"):
    verdicts = [
        ("LISTs <= 2x kinds", lists[command] <= 2 * kinds[command]),
        ("wall time <= 0.5x kubectl", times[command] <= 0.5 * times["kubectl"]),
        ("peak RSS <= 96 MB", rss[command] <= 96),
    ]
    print(f"{command}: " + ", ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in verdicts))
PY
