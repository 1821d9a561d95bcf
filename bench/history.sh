#!/usr/bin/env bash
# Benchmark: wall time of `kubectl-gitrollout history` against the baseline `kubectl rollout
# history`, for the same Deployment with 10 revisions, on the local control plane.
#
# Two scenarios, each measured with hyperfine (warm-up runs, then the median of many runs, no
# shell in between):
#   1. a namespace holding only the Deployment and its 10 ReplicaSets;
#   2. the same namespace plus 2,000 unrelated ReplicaSets (replicas: 0, selectors of their own).
# Targets: gitrollout takes <= 0.5x kubectl's median time, and the 2,000 foreign ReplicaSets cost
# it no more than noise (the interquartile range of its runs without them). Before the second
# measurement the script waits for the ReplicaSet controller to finish syncing the new objects.
#
# Both commands get the same --kubeconfig. kubectl keeps its discovery cache in ~/.kube/cache;
# the warm-up runs fill it, which is fair to kubectl. The plugin is timed twice: as its own binary,
# and as `kubectl gitrollout` through kubectl's plugin discovery, with kubectl's start-up in front.
#
# Run from anywhere in the repo:  bash bench/history.sh
# It starts the local control plane if it is not running, builds the plugin in release mode,
# installs hyperfine with apt-get if missing, and deletes its namespace `gitrollout-bench` at the
# end. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly NAMESPACE=gitrollout-bench
readonly DEPLOYMENT=bench-app
readonly REVISIONS=10
readonly FOREIGN=2000
readonly CHUNK=200
readonly WARMUP=3
readonly RUNS=50

eval "$(cargo xtask cluster up)"
cargo build --release -p kubectl-gitrollout
readonly KUBECTL=target/cluster/kubectl
readonly PLUGIN=target/release/kubectl-gitrollout

if ! command -v hyperfine >/dev/null; then
    echo "installing hyperfine" >&2
    if ! { apt-get update -qq && apt-get install -y -qq hyperfine; } >&2; then
        echo "error: hyperfine is needed and could not be installed with apt-get;" \
            "install it (https://github.com/sharkdp/hyperfine) and run again" >&2
        exit 1
    fi
fi

k() {
    "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"
}

tmp=$(mktemp -d)
cleanup() {
    echo "== deleting namespace $NAMESPACE" >&2
    k delete namespace "$NAMESPACE" --ignore-not-found --wait >/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

# check_revisions: fails unless both commands list all the Deployment's revisions, so that they
# do the same work, and the foreign ReplicaSets change nothing in what they show.
check_revisions() {
    local kubectl_count plugin_count
    # Revision rows of either command's table: a number first, after the plugin's `*` for the
    # current one.
    kubectl_count=$(k -n "$NAMESPACE" rollout history "deployment/$DEPLOYMENT" |
        grep -cE '^[* ]*[0-9]+ ' || true)
    plugin_count=$("$PLUGIN" --kubeconfig "$KUBECONFIG" -n "$NAMESPACE" history \
        "deployment/$DEPLOYMENT" | grep -cE '^[* ]*[0-9]+ ' || true)
    if [[ $kubectl_count != "$REVISIONS" || $plugin_count != "$REVISIONS" ]]; then
        echo "error: expected $REVISIONS revisions, kubectl lists $kubectl_count and" \
            "kubectl-gitrollout $plugin_count" >&2
        exit 1
    fi
}

echo "== setting up namespace $NAMESPACE: deployment/$DEPLOYMENT with $REVISIONS revisions" >&2
k delete namespace "$NAMESPACE" --wait --ignore-not-found
k create namespace "$NAMESPACE"
k -n "$NAMESPACE" create deployment "$DEPLOYMENT" --image=nginx:1.0 --replicas=2
k -n "$NAMESPACE" rollout status "deployment/$DEPLOYMENT" --timeout=120s >/dev/null
for ((n = 1; n < REVISIONS; n++)); do
    k -n "$NAMESPACE" set image "deployment/$DEPLOYMENT" "nginx=nginx:1.$n" >/dev/null
    k -n "$NAMESPACE" rollout status "deployment/$DEPLOYMENT" --timeout=120s >/dev/null
done
# The default revisionHistoryLimit (10 old ReplicaSets) keeps every revision.
check_revisions

# The two commands as hyperfine runs them with --shell=none: split into words, so quoted here.
printf -v kubectl_cmd '%q ' "$KUBECTL" --kubeconfig "$KUBECONFIG" \
    rollout history "deployment/$DEPLOYMENT" -n "$NAMESPACE"
printf -v plugin_cmd '%q ' "$PLUGIN" --kubeconfig "$KUBECONFIG" \
    history "deployment/$DEPLOYMENT" -n "$NAMESPACE"
# And as users run it: `kubectl gitrollout`, found on PATH by kubectl's plugin discovery, so
# kubectl's own start-up comes first. (kubectl takes no flags before a plugin's name.)
printf -v via_kubectl_cmd '%q ' env "PATH=$PWD/target/release:$PATH" "$KUBECTL" gitrollout \
    history "deployment/$DEPLOYMENT" -n "$NAMESPACE" --kubeconfig "$KUBECONFIG"

# measure SCENARIO: times both commands and writes hyperfine's results to $tmp/SCENARIO.json.
measure() {
    echo "== measuring: $1" >&2
    hyperfine --shell=none --warmup "$WARMUP" --runs "$RUNS" \
        --export-json "$tmp/$1.json" \
        --command-name kubectl "$kubectl_cmd" \
        --command-name gitrollout "$plugin_cmd" \
        --command-name "kubectl gitrollout" "$via_kubectl_cmd"
}

measure plain

echo "== adding $FOREIGN foreign ReplicaSets in lists of $CHUNK" >&2
python3 - "$tmp" "$FOREIGN" "$CHUNK" <<'PY'
import json, sys

tmp, total, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def replicaset(n):
    labels = {"app": f"foreign-{n}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": f"foreign-{n}", "labels": {**labels, "gitrollout-bench": "foreign"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]},
            },
        },
    }

for start in range(0, total, chunk):
    items = [replicaset(n) for n in range(start, min(start + chunk, total))]
    with open(f"{tmp}/foreign-{start:05d}.json", "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
PY
for list in "$tmp"/foreign-*.json; do
    k -n "$NAMESPACE" create -f "$list" >/dev/null
done
replicasets=$(k -n "$NAMESPACE" get replicasets --no-headers | wc -l)
if ((replicasets < FOREIGN + REVISIONS)); then
    echo "error: expected at least $((FOREIGN + REVISIONS)) ReplicaSets, found $replicasets" >&2
    exit 1
fi
check_revisions
# The ReplicaSet controller syncs each new ReplicaSet once, at its client's 20 requests a second:
# measuring before it is done would time its load on the API server, not the objects' cost.
echo "== waiting for the ReplicaSet controller to sync them" >&2
deadline=$((SECONDS + 300))
until (($(k -n "$NAMESPACE" get replicasets -l gitrollout-bench=foreign \
    -o jsonpath='{range .items[*]}{.status.observedGeneration}{"\n"}{end}' |
    grep -c . || true) >= FOREIGN)); do
    if ((SECONDS > deadline)); then
        echo "error: the ReplicaSet controller did not sync the foreign ReplicaSets in 300 s" >&2
        exit 1
    fi
    sleep 2
done

measure foreign

echo "== summary (median of $RUNS runs after $WARMUP warm-up runs)"
python3 - "$tmp" "$FOREIGN" <<'PY'
import json, statistics, sys

tmp, foreign = sys.argv[1], sys.argv[2]

def load(scenario):
    """Each command's run times in ms, by the name given to hyperfine."""
    with open(f"{tmp}/{scenario}.json") as f:
        results = json.load(f)["results"]
    return {r["command"]: [t * 1000 for t in r["times"]] for r in results}

def spread(times):
    """The noise of a series of runs: its interquartile range."""
    q1, _, q3 = statistics.quantiles(times, n=4)
    return q3 - q1

scenarios = [("10 revisions", load("plain")), (f"+ {foreign} foreign ReplicaSets", load("foreign"))]
print("baseline: kubectl rollout history; the plugin run alone, and as `kubectl gitrollout`")
print(f"{'scenario':<34}{'kubectl ms':>12}{'plugin ms':>11}{'ratio':>7}{'via kubectl ms':>16}{'ratio':>7}")
for name, runs in scenarios:
    k = statistics.median(runs["kubectl"])
    g = statistics.median(runs["gitrollout"])
    v = statistics.median(runs["kubectl gitrollout"])
    verdict = "met" if v / k <= 0.5 else "MISSED"
    print(
        f"{name:<34}{k:>12.1f}{g:>11.1f}{g / k:>6.2f}x{v:>16.1f}{v / k:>6.2f}x"
        f"  (target <= 0.50x via kubectl: {verdict})"
    )

print(f"\ncost of the {foreign} foreign ReplicaSets (median with / without):")
(_, plain), (_, crowded) = scenarios
for command in ("kubectl", "gitrollout", "kubectl gitrollout"):
    before, after = statistics.median(plain[command]), statistics.median(crowded[command])
    noise = spread(plain[command])
    verdict = "within noise" if after - before <= noise else "MORE than noise"
    print(
        f"  {command:<19}{after / before:.2f}x  ({before:.1f} -> {after:.1f} ms, "
        f"{after - before:+.1f} ms; noise, the IQR without them: {noise:.1f} ms: {verdict})"
    )
PY
