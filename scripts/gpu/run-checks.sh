#!/usr/bin/env bash
# The device command (scripts/gpu/README.md): unpacks .gpu-pack (made by pack.sh, carried), installs
# the Vulkan loader, and runs the GPU checks; results land in $OUT. Arguments go to checks.js
# (e.g. --only steps,profile --total 150 for a short rerun).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PACK=${LVIT_GPU_PACK:-.gpu-pack}
die() { echo "run-checks.sh: $*" >&2; exit 2; }
[ -n "${OUT:-}" ] || die "OUT is not set (the device tool sets it to the folder whose files come back)"
for f in node.xz native.tar.xz tree.tar.xz; do
  [ -f "$PACK/$f" ] || die "$PACK/$f is missing: run scripts/gpu/pack.sh here, then name $PACK in the run's carry"
done
mkdir -p "$OUT"

# Vulkan loader: the NVIDIA ICD is there, libvulkan.so.1 is not (ENGINE.md §8). dpkg -x into / as the device README says.
if ! ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null; then
  for f in "$PACK"/gl/*.deb; do dpkg -x "$f" / || die "dpkg -x $f failed"; done
  ldconfig
fi
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$ICD" ] && export VK_DRIVER_FILES=$ICD

# xz may be missing there; python3's lzma is not.
unxz() {
  if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}
BIN=/tmp/lvit-gpu-bin
mkdir -p "$BIN"
unxz "$PACK/node.xz" > "$BIN/node" && chmod +x "$BIN/node" || die "cannot unpack $PACK/node.xz"
unxz "$PACK/native.tar.xz" | tar -xf - || die "cannot unpack $PACK/native.tar.xz"
unxz "$PACK/tree.tar.xz" | tar -xf - || die "cannot unpack $PACK/tree.tar.xz"
export PATH=$BIN:$PATH

"$BIN/node" scripts/dist/gpu/checks.js --out "$OUT" --pack "$PACK" "$@" 2>&1 | tee "$OUT/log.txt"
status=${PIPESTATUS[0]}
# Files over 16 MiB do not come back: keep the log's end.
if [ "$(stat -c %s "$OUT/log.txt")" -gt 15000000 ]; then
  tail -c 15000000 "$OUT/log.txt" > "$OUT/log.tmp" && mv "$OUT/log.tmp" "$OUT/log.txt"
fi
exit "$status"
