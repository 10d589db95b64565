#!/usr/bin/env bash
# The README's quick start, measured as a new user would meet it:
#
#   tools/measure_quickstart.sh [SCRATCH_DIR]
#
# copies the committed tree (git archive HEAD) into SCRATCH_DIR (default: a new
# temporary directory), then, with an empty HOME and a bare environment:
#   1. `python3 -m venv .venv && . .venv/bin/activate && pip install .`, online (a cold pip
#      cache: HOME is empty), timed, and the venv's size (du);
#   2. `digits train --seed 1` with no network at all (`unshare -rn`: a new network
#      namespace with no interfaces up), so the download fails and the run falls back
#      to the shipped sample; its stderr and first and last lines are printed.
# Needs Linux user namespaces (unshare -r) and git; prints what README.md and docs/data.md quote.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-$(mktemp -d)}"
rm -rf "$scratch/home" "$scratch/repo"
mkdir -p "$scratch/home" "$scratch/repo"
git -C "$repo" archive HEAD | tar -x -C "$scratch/repo"
cd "$scratch/repo"
bare=(env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$scratch/home" LANG=C.UTF-8)

echo "commit $(git -C "$repo" rev-parse --short HEAD), $(python3 -V), $(uname -m), $(nproc) cores"
start=$(date +%s.%N)
"${bare[@]}" bash -c 'python3 -m venv .venv && . .venv/bin/activate && pip install -q .'
end=$(date +%s.%N)
printf 'install: %.1f s (venv + pip install ., online, cold cache)\n' "$(echo "$end - $start" | bc)"
echo "venv: $(du -sh .venv | cut -f1) (du -sh .venv)"
echo "installed: $("${bare[@]}" .venv/bin/pip list --format=freeze | tr '\n' ' ')"
ls .venv/lib/python3*/site-packages/neuraldigits/training/ | grep -q '^_ckernel' \
    && echo "C kernel: built" || echo "C kernel: NOT built (no C compiler?)"

start=$(date +%s.%N)
"${bare[@]}" unshare -rn bash -c '. .venv/bin/activate && digits train --seed 1' \
    >"$scratch/train.out" 2>"$scratch/train.err"
end=$(date +%s.%N)
printf 'digits train offline: %.1f s wall, start-up included\n' "$(echo "$end - $start" | bc)"
echo "--- stderr ($(wc -l <"$scratch/train.err") lines)"
cat "$scratch/train.err"
echo "--- stdout (first 4 and last 2 of $(wc -l <"$scratch/train.out") lines)"
head -4 "$scratch/train.out"
echo "..."
tail -2 "$scratch/train.out"
