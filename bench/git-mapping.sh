#!/usr/bin/env bash
# Benchmark: mapping revisions to the commits of a manifest, as `kubectl gitrollout history
# --repo DIR --path FILE` does, against the baseline `git log --format=%H -- FILE` on the same
# repository, measured in the same run. Targets: at most 2x git's median time, peak RSS at most
# 64 MB.
#
# Case 1, a real repository: Argo CD's history (11,298 commits; manifests/install.yaml changed in
# 444 of them, ~1.9 MB each), from the corpus bundle (GITROLLOUT_CORPUS, default
# ../shared/corpora/argo-cd-install-history.bundle beside the repository), cloned into
# target/bench/. Revisions of
# argocd-server (a Deployment) and argocd-application-controller (a StatefulSet) are made from
# the ten newest templates the file gave each (what a workload keeps with the default
# revisionHistoryLimit), as the API server stores them (defaults applied: the port of the
# server's defaulting is checked against the real API server by git_truth_e2e). Nothing is
# deployed. (a) every revision made from a commit; (b) plus a newest revision made by hand
# (`kubectl set env HANDMADE=1`), which must map to no commit. Timed without a commit-graph, and
# again after `git commit-graph write --reachable --changed-paths`.
#
# Case 2, synthetic: a generated 10,000-commit repository whose 500-byte manifest changes in
# every 10th commit, ten revisions from its ten newest versions.
#
# The mapping runs as the example `map_manifest` of rollout-git, the same code the plugin calls;
# it exits 1 when a revision maps wrongly (a fast wrong answer fails the benchmark), and when
# the fast YAML reader reads any of the corpus's YAML otherwise than serde-saphyr.
#
# Run from anywhere in the repo:  bash bench/git-mapping.sh
# Needs git, python3, hyperfine (installed with apt-get when missing) and /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly CORPUS=${GITROLLOUT_CORPUS:-$PWD/../shared/corpora/argo-cd-install-history.bundle}
readonly FILE=manifests/install.yaml
readonly KEPT=10
readonly work=target/bench/git-mapping
readonly mapper=target/release/examples/map_manifest

if [[ ! -f $CORPUS ]]; then
  echo "bench: no corpus bundle at $CORPUS; set GITROLLOUT_CORPUS to its path" >&2
  exit 1
fi
if ! command -v hyperfine >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null ||
    { echo "bench: hyperfine is missing and could not be installed" >&2; exit 1; }
fi

cargo build --quiet --release -p rollout-git --example map_manifest
rm -rf "$work"
mkdir -p "$work"
echo "bench: cloning the corpus into $work/argo-cd" >&2
git clone --quiet --branch main "$CORPUS" "$work/argo-cd"
repo=$work/argo-cd

# The fast YAML reader must read exactly as serde-saphyr does: every version of FILE, and every
# YAML file of the newest tree (Helm templates, CRDs, test fixtures), are read both ways.
echo "bench: reading the corpus's YAML both ways" >&2
{
  git -C "$repo" log --format=%H -- "$FILE" | while read -r sha; do
    git -C "$repo" show "$sha:$FILE" 2>/dev/null || true
    printf '\0'
  done
  git -C "$repo" ls-files -z -- '*.yaml' '*.yml' | while IFS= read -r -d '' path; do
    cat "$repo/$path"
    printf '\0'
  done
} | "$mapper" yaml-check

workloads=("deployment argocd-server" "statefulset argocd-application-controller")
for workload in "${workloads[@]}"; do
  read -r kind name <<<"$workload"
  "$mapper" capture "$repo" "$FILE" "$kind" "$name" "$KEPT" >"$work/$name-a.json"
  "$mapper" capture "$repo" "$FILE" "$kind" "$name" "$KEPT" handmade >"$work/$name-b.json"
done

# Peak RSS of one run of a command, in KB; the command must succeed.
peak_rss() {
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk '/Maximum resident set size/ {print $6}'
}

# Times git log and the four mappings on the corpus clone as it is now; $1 names the setting.
measure() {
  local setting=$1 commands=() names=()
  names+=("git log -- FILE")
  commands+=("git -C $repo log --format=%H -- $FILE")
  for workload in "${workloads[@]}"; do
    read -r kind name <<<"$workload"
    for case in a b; do
      names+=("$name ($case)")
      commands+=("$mapper map $repo $FILE $kind $name $work/$name-$case.json")
    done
  done
  local args=()
  for i in "${!commands[@]}"; do
    args+=(--command-name "${names[$i]}" "${commands[$i]}")
    # shellcheck disable=SC2086
    echo "${names[$i]}	$(peak_rss ${commands[$i]})" >>"$work/rss-$setting.tsv"
  done
  hyperfine --warmup 3 --runs 20 -N --export-json "$work/time-$setting.json" "${args[@]}" >&2
}

: >"$work/rss-plain.tsv"
: >"$work/rss-graph.tsv"
echo "bench: Argo CD, no commit-graph" >&2
rm -rf "$repo/.git/objects/info/commit-graph" "$repo/.git/objects/info/commit-graphs"
measure plain
echo "bench: Argo CD, with a commit-graph and changed-path Bloom filters" >&2
git -C "$repo" commit-graph write --reachable --changed-paths
measure graph

echo "bench: synthetic, 10,000 commits" >&2
synthetic=$work/synthetic
git init --quiet --initial-branch=main "$synthetic"
python3 - 10000 10 deploy/app.yaml <<'PY' | git -C "$synthetic" fast-import --quiet
import sys
commits, every, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
out = sys.stdout
for i in range(commits):
    out.write("commit refs/heads/main\n")
    out.write(f"committer Bench <bench@example.com> {1700000000 + i * 60} +0000\n")
    message = f"change {i}\n"
    out.write(f"data {len(message)}\n{message}")
    if i % every == 0:
        manifest = (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: team-app\nspec:\n"
            "  replicas: 2\n  selector:\n    matchLabels:\n      app: team-app\n  template:\n"
            "    metadata:\n      labels:\n        app: team-app\n    spec:\n      containers:\n"
            f"      - name: nginx\n        image: nginx:1.{i // every}\n"
        )
        out.write(f"M 644 inline {path}\ndata {len(manifest)}\n{manifest}")
    else:
        other = f"{i}\n"
        out.write(f"M 644 inline notes/n{i % 50}.txt\ndata {len(other)}\n{other}")
    out.write("\n")
PY
git -C "$synthetic" reset --quiet --hard main
git -C "$synthetic" gc --quiet
"$mapper" capture "$synthetic" deploy/app.yaml deployment team-app "$KEPT" >"$work/synthetic.json"
: >"$work/rss-synthetic.tsv"
echo "git log -- FILE	$(peak_rss git -C "$synthetic" log --format=%H -- deploy/app.yaml)" \
  >>"$work/rss-synthetic.tsv"
echo "team-app (a)	$(peak_rss "$mapper" map "$synthetic" deploy/app.yaml deployment team-app \
  "$work/synthetic.json")" >>"$work/rss-synthetic.tsv"
hyperfine --warmup 3 --runs 20 -N --export-json "$work/time-synthetic.json" \
  --command-name "git log -- FILE" "git -C $synthetic log --format=%H -- deploy/app.yaml" \
  --command-name "team-app (a)" \
  "$mapper map $synthetic deploy/app.yaml deployment team-app $work/synthetic.json" >&2

python3 - "$work" <<'PY'
import csv, json, sys
work = sys.argv[1]
print(f"{'case':48} {'median':>9} {'ratio':>7} {'peak RSS':>9}")
for setting, title in [("plain", "Argo CD, no commit-graph"),
                       ("graph", "Argo CD, commit-graph with Bloom filters"),
                       ("synthetic", "synthetic 10,000 commits")]:
    results = {r["command"]: r for r in json.load(open(f"{work}/time-{setting}.json"))["results"]}
    rss = dict(csv.reader(open(f"{work}/rss-{setting}.tsv"), delimiter="\t"))
    git = results["git log -- FILE"]["median"]
    for name, result in results.items():
        ratio = result["median"] / git
        print(f"{title + ': ' + name:48} {result['median'] * 1000:7.1f}ms {ratio:6.2f}x "
              f"{int(rss[name]) / 1024:6.1f} MB")
print("targets: ratio <= 2x against git log in the same setting, peak RSS <= 64 MB")
PY
