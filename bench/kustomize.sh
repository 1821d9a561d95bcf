#!/usr/bin/env bash
# Benchmark: `kubectl-gitrollout history --repo DIR --kustomize OVERLAY` against the baseline
# `git log --format=%H -- OVERLAY BASE` (the list of commits the trace starts from), measured in
# the same run, on the local control plane.
#
# The repository: an overlay (overlays/prod, setting the image tag) over a base in another
# directory (base/, the Deployment and its env), and a history of 200 commits to them, each a
# release alternating between the overlay's tag and the base's env, with a commit elsewhere
# (docs/) between every two. The newest 10 releases are applied with `kubectl apply -k`, one
# revision each (the Deployment's default revisionHistoryLimit keeps 10). The trace renders the
# overlay (`kubectl kustomize`) at the commits that changed it, newest first, and stops once the
# oldest revision is matched: here 10 renders of the 200. Before timing, the script checks that
# every revision maps to the commit it was applied from (a fast wrong answer fails the bench).
#
# Run from anywhere in the repo:  bash bench/kustomize.sh
# It starts the local control plane if it is not running, builds the plugin in release mode,
# installs hyperfine with apt-get if missing, and deletes its namespace at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly NAMESPACE=gitrollout-bench-kustomize
readonly COMMITS=200
readonly APPLIED=10
readonly RUNS=${RUNS:-20}

eval "$(cargo xtask cluster up)"
cargo build --release -p kubectl-gitrollout
readonly KUBECTL=$PWD/target/cluster/kubectl
readonly PLUGIN=$PWD/target/release/kubectl-gitrollout
if ! command -v hyperfine >/dev/null; then
    apt-get update -qq && apt-get install -y -qq hyperfine >&2
fi
k() {
    "$KUBECTL" --kubeconfig "$KUBECONFIG" -n "$NAMESPACE" "$@"
}

tmp=$(mktemp -d)
cleanup() {
    "$KUBECTL" --kubeconfig "$KUBECONFIG" delete namespace "$NAMESPACE" --ignore-not-found \
        --wait >/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
"$KUBECTL" --kubeconfig "$KUBECONFIG" delete namespace "$NAMESPACE" --ignore-not-found --wait
"$KUBECTL" --kubeconfig "$KUBECONFIG" create namespace "$NAMESPACE" >/dev/null

repo=$tmp/repo
git init -q "$repo"
g() {
    git -C "$repo" -c user.name=bench -c user.email=bench@example.com "$@"
}
mkdir -p "$repo/base" "$repo/overlays/prod" "$repo/docs"
printf 'resources: [app.yaml]\n' >"$repo/base/kustomization.yaml"
base() {
    printf 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: app\n        image: nginx:1.16\n        env: [{name: RELEASE, value: "%s"}]\n' "$1" >"$repo/base/app.yaml"
}
overlay() {
    printf 'resources: [../../base]\nimages:\n- name: nginx\n  newTag: "1.%s"\n' "$1" >"$repo/overlays/prod/kustomization.yaml"
}
echo "== $COMMITS commits to the overlay and its base, the newest $APPLIED applied" >&2
base 0
overlay 0
declare -a applied=()
for ((i = 1; i <= COMMITS; i++)); do
    if ((i % 2)); then overlay "$i"; else base "$i"; fi
    g add -A && g commit -qm "Release $i"
    if ((i > COMMITS - APPLIED)); then
        k apply -k "$repo/overlays/prod" >/dev/null
        k rollout status deploy/web --timeout=120s >/dev/null
        applied+=("$(g rev-parse HEAD)")
    fi
    echo "$i" >"$repo/docs/notes.md"
    g add -A && g commit -qm "Docs $i"
done

export PATH=$(dirname "$KUBECTL"):$PATH
trace=("$PLUGIN" --kubeconfig "$KUBECONFIG" -n "$NAMESPACE" history deploy/web --repo "$repo"
    --kustomize overlays/prod)
mapped=$("${trace[@]}" -o json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(" ".join((r["commit"] or {}).get("sha", "-") for r in doc["revisions"]))')
if [[ $mapped != "${applied[*]}" ]]; then
    echo "error: the trace mapped $mapped, expected ${applied[*]}" >&2
    exit 1
fi
echo "== every revision maps to the commit it was applied from" >&2
hyperfine -N -w 3 -r "$RUNS" --export-markdown "$tmp/result.md" \
    -n "git log -- overlays/prod base" "git -C $repo log --format=%H -- overlays/prod base" \
    -n "history --kustomize" "${trace[*]}"
cat "$tmp/result.md"
