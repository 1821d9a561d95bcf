#!/usr/bin/env bash
# Measurement: API requests made by one revert that waits for its rollout, against the baseline
# `kubectl rollout undo` followed by `kubectl rollout status`, both counted from their `-v=6` logs
# (one line per request) on the same 10-replica Deployment on the local control plane.
#
# The story is played once per tool in a namespace of its own: nginx:1.16 with 10 replicas, then
# 1.17 and 1.18, each rolled out; then each tool takes the Deployment back to revision 2 and waits
# until the rollout is complete.
#
# Run from anywhere in the repo:  bash bench/revert-requests.sh
# It starts the local control plane if it is not running (and leaves it running), builds the
# plugin, and deletes its namespaces at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(cargo xtask cluster up)"
cargo build --quiet -p kubectl-gitrollout
readonly KUBECTL=target/cluster/kubectl
readonly PLUGIN=target/debug/kubectl-gitrollout
readonly LOGS=$(mktemp -d)
trap 'rm -rf "$LOGS"' EXIT

story() {
    local ns=$1
    "$KUBECTL" create namespace "$ns" >/dev/null
    "$KUBECTL" -n "$ns" create deployment team-app --image=nginx:1.16 --replicas=10 >/dev/null
    "$KUBECTL" -n "$ns" rollout status deployment/team-app --timeout=120s >/dev/null
    for version in 1.17 1.18; do
        "$KUBECTL" -n "$ns" set image deployment/team-app "nginx=nginx:$version" >/dev/null
        "$KUBECTL" -n "$ns" rollout status deployment/team-app --timeout=120s >/dev/null
    done
}

# kubectl -v=6 logs each response as `... "Response" verb="GET" url=...`; the plugin as
# `GET https://... 200 OK in N milliseconds`.
count() { grep -cE "$2" "$1" || true; }

story gitrollout-requests-plugin
"$PLUGIN" -n gitrollout-requests-plugin -v=6 revert deploy/team-app --to-revision 2 --wait \
    --timeout 120s 2>"$LOGS/plugin" >/dev/null
plugin=$(count "$LOGS/plugin" '^(GET|POST|PUT|PATCH|DELETE) https?://')

story gitrollout-requests-kubectl
"$KUBECTL" -n gitrollout-requests-kubectl -v=6 rollout undo deployment/team-app --to-revision=2 \
    2>"$LOGS/undo" >/dev/null
"$KUBECTL" -n gitrollout-requests-kubectl -v=6 rollout status deployment/team-app --timeout=120s \
    2>"$LOGS/status" >/dev/null
undo=$(count "$LOGS/undo" '"Response" verb=')
status=$(count "$LOGS/status" '"Response" verb=')

for ns in gitrollout-requests-plugin gitrollout-requests-kubectl; do
    "$KUBECTL" delete namespace "$ns" --wait=false >/dev/null
done

echo "requests of gitrollout revert --wait:                 $plugin"
sed -E 's/ [0-9]+ milliseconds$//; s/^/    /' "$LOGS/plugin" | grep -E '^    [A-Z]+ ' || true
echo "requests of kubectl rollout undo + rollout status:    $((undo + status)) ($undo + $status)"
awk -v p="$plugin" -v k="$((undo + status))" 'BEGIN { printf "ratio: %.2fx kubectl\n", p / k }'
