#!/usr/bin/env bash
# Measurement: CI's step after a commit, `kubectl gitrollout apply --wait`, against the baseline
# it replaces, `kubectl apply --server-side` followed by `kubectl rollout status`, for the same
# manifest of one Deployment (2 replicas) and one Service on the local control plane.
#
#   1. Requests: one release (a new image) by each, counted from their `-v=6` logs (one line per
#      request).
#   2. Wall time: hyperfine, each run a release of a new image (hyperfine's --prepare writes it),
#      so that every run is a rollout waited for; the median of each, and the ratio.
#
# Run from anywhere in the repo:  bash bench/apply.sh
# It starts the local control plane if it is not running (and leaves it running), builds the
# plugin in release mode, installs hyperfine with apt-get if missing, and deletes its namespaces
# at the end. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly RUNS=${RUNS:-15}

eval "$(cargo xtask cluster up)"
cargo build --quiet --release -p kubectl-gitrollout
readonly KUBECTL=$PWD/target/cluster/kubectl
readonly PLUGIN=$PWD/target/release/kubectl-gitrollout
if ! command -v hyperfine >/dev/null; then
    echo "installing hyperfine" >&2
    { apt-get update -qq && apt-get install -y -qq hyperfine; } >&2 ||
        { echo "error: install hyperfine and run again" >&2; exit 1; }
fi

tmp=$(mktemp -d)
cleanup() {
    for ns in gitrollout-apply-plugin gitrollout-apply-kubectl; do
        "$KUBECTL" delete namespace "$ns" --ignore-not-found --wait=false >/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT

# The repository CI would check out: one commit of the manifest.
git init --quiet "$tmp/repo"
git -C "$tmp/repo" -c user.name=CI -c user.email=ci@example.com commit --quiet --allow-empty \
    -m "Release team-app"

# release N: writes the manifest of release N (image nginx:1.N) to $tmp/app.yaml.
cat >"$tmp/release" <<'SH'
#!/usr/bin/env bash
set -euo pipefail
counter=$1/counter
n=$(($(cat "$counter" 2>/dev/null || echo 0) + 1))
echo "$n" >"$counter"
cat >"$1/app.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: team-app
spec:
  replicas: 2
  selector:
    matchLabels: {app: team-app}
  template:
    metadata:
      labels: {app: team-app}
    spec:
      containers:
      - name: nginx
        image: nginx:1.$n
---
apiVersion: v1
kind: Service
metadata:
  name: team-app
spec:
  selector: {app: team-app}
  ports:
  - port: 80
YAML
SH
chmod +x "$tmp/release"

plugin_apply() {
    "$PLUGIN" -n gitrollout-apply-plugin "$@" apply -f "$tmp/app.yaml" --commit HEAD \
        --repo "$tmp/repo" --wait --timeout 120s
}
kubectl_apply() {
    "$KUBECTL" -n gitrollout-apply-kubectl "$@" apply --server-side --force-conflicts \
        -f "$tmp/app.yaml" >/dev/null &&
        "$KUBECTL" -n gitrollout-apply-kubectl "$@" rollout status deployment/team-app \
            --timeout=120s
}
export -f plugin_apply kubectl_apply
export PLUGIN KUBECTL tmp

# The first release of each, unmeasured: the requests counted are those of an ordinary release.
for ns in gitrollout-apply-plugin gitrollout-apply-kubectl; do
    "$KUBECTL" create namespace "$ns" >/dev/null
done
"$tmp/release" "$tmp"
plugin_apply >/dev/null
kubectl_apply >/dev/null

"$tmp/release" "$tmp"
plugin_apply -v=6 2>"$tmp/plugin.log" >/dev/null
kubectl_apply -v=6 2>"$tmp/kubectl.log" >/dev/null
plugin=$(grep -cE '^(GET|POST|PUT|PATCH|DELETE) https?://' "$tmp/plugin.log" || true)
kubectl=$(grep -cE '"Response" verb=' "$tmp/kubectl.log" || true)

echo "== wall time: $RUNS releases each" >&2
hyperfine --shell=bash --warmup 1 --runs "$RUNS" --export-json "$tmp/times.json" \
    --prepare "$tmp/release $tmp" \
    --command-name "gitrollout apply --wait" "plugin_apply >/dev/null" \
    --command-name "kubectl apply --server-side + rollout status" "kubectl_apply >/dev/null" >&2

echo "requests of gitrollout apply --wait:                          $plugin"
sed -E 's/ [0-9]+ milliseconds$//; s/^/    /' "$tmp/plugin.log" | grep -E '^    [A-Z]+ ' || true
echo "requests of kubectl apply --server-side + rollout status:     $kubectl"
awk -v p="$plugin" -v k="$kubectl" 'BEGIN { printf "requests ratio: %.2fx kubectl\n", p / k }'
python3 - "$tmp/times.json" <<'PY'
import json, sys

results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
plugin = results["gitrollout apply --wait"]["median"] * 1000
kubectl = results["kubectl apply --server-side + rollout status"]["median"] * 1000
print(f"wall time (median): gitrollout {plugin:.0f} ms, kubectl {kubectl:.0f} ms: "
      f"ratio {plugin / kubectl:.2f}x kubectl")
PY
