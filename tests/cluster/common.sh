# Shared by the cluster tests: a tiny grid, and the check that two results files hold the same
# points. Exit 77 tells CTest a test was skipped.
GRID=(--schemes fp16,w8a8 --shapes 256x512,512x256 --batch 1,4 --min-time 0.001 --repetitions 1)

skip() {
  echo "SKIPPED: $*"
  exit 77
}

# same_points A B: the same set of point names in both (and each point once per file)
same_points() {
  python3 - "$1" "$2" <<'PY'
import json, sys
sets = []
for f in sys.argv[1:]:
    doc = json.load(open(f))
    sets.append(sorted({e["point"] for e in doc["benchmarks"]}))
    print(f"{f}: {len(sets[-1])} points")
if sets[0] != sets[1] or not sets[0]:
    print("the point sets differ:", sorted(set(sets[0]) ^ set(sets[1])))
    sys.exit(1)
print("the same points")
PY
}
