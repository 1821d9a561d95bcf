#!/usr/bin/env bash
# Benchmark: mapping a manifest over a generated 10,000-commit repository whose manifest changes in
# every 10th commit (1,000 versions), as `kubectl gitrollout history --path` does, against the
# baseline `git log --format=%H -- FILE` on the same repository. Target: <= 2x git's median time.
#
# The mapping walks every commit, finds the ones that changed FILE, and matches ten revisions (the
# ten newest versions, as deployed) against the versions' pod templates, parsing versions only as
# far back as it needs; it runs as the example `map_manifest` of rollout-git, the same code the
# plugin calls.
#
# Run from anywhere in the repo:  bash bench/git-mapping.sh
# Needs git, python3 and hyperfine (installed with apt-get when missing). Takes about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly COMMITS=10000
readonly EVERY=10
readonly FILE=deploy/app.yaml
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! command -v hyperfine >/dev/null; then
  apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null ||
    { echo "bench: hyperfine is missing and could not be installed" >&2; exit 1; }
fi

echo "bench: generating $COMMITS commits with git fast-import" >&2
git init --quiet --initial-branch=main "$work/repo"
python3 - "$COMMITS" "$EVERY" "$FILE" <<'PY' | git -C "$work/repo" fast-import --quiet
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
git -C "$work/repo" reset --quiet --hard main
git -C "$work/repo" gc --quiet

cargo build --quiet --release -p rollout-git --example map_manifest
mapper=target/release/examples/map_manifest
# Ten deployed revisions, made from the ten newest versions of the manifest (the default
# revisionHistoryLimit keeps ten old ones), as `history --path` maps them.
revisions=$(git -C "$work/repo" log -n 10 --format=%H -- "$FILE" | tr '\n' ' ')
"$mapper" "$work/repo" "$FILE" deployment team-app $revisions >&2

hyperfine --warmup 3 --runs 20 -N --export-json "$work/result.json" \
  --command-name "git log -- FILE" "git -C $work/repo log --format=%H -- $FILE" \
  --command-name "gitrollout mapping" "$mapper $work/repo $FILE deployment team-app $revisions" >&2

python3 - "$work/result.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
git = results["git log -- FILE"]["median"]
ours = results["gitrollout mapping"]["median"]
print(f"git log --format=%H -- FILE  median {git * 1000:8.1f} ms")
print(f"gitrollout mapping           median {ours * 1000:8.1f} ms")
print(f"ratio (mapping / git log)    {ours / git:.2f}x   (target <= 2x)")
PY
