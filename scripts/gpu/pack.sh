#!/usr/bin/env bash
# Packs what the GPU checks need into .gpu-pack/ (git-ignored) within the device machine's 64 MiB
# upload, checks the size, and prints the device command (scripts/gpu/README.md). Run after
# `npx turbo run build`, in the checkout the device tool sends (the lead's).
#   scripts/gpu/pack.sh
# Env: LVIT_PACK_NODE (node binary to carry; default: the node on PATH),
#      LVIT_TORCH_REFERENCE_DIR (default ../shared/tools/torch-reference), LVIT_DATA_ROOT (data root).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PACK=.gpu-pack
LIMIT=$((64 * 1024 * 1024))
NODE_BIN=${LVIT_PACK_NODE:-$(command -v node)}
TORCH_REF=${LVIT_TORCH_REFERENCE_DIR:-$ROOT/../shared/tools/torch-reference}
GL_DEBS=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)

die() { echo "pack.sh: $*" >&2; exit 1; }
[ -f scripts/dist/gpu/checks.js ] || die "scripts/dist/gpu/checks.js is missing: run 'npx turbo run build' first"
[ -f "$TORCH_REF/lvit_step.py" ] || die "$TORCH_REF/lvit_step.py is missing (set LVIT_TORCH_REFERENCE_DIR)"
for tool in xz tar strip sha256sum apt-get ldd; do command -v "$tool" >/dev/null || die "'$tool' is needed and not installed"; done
mkdir -p "$PACK"
git check-ignore -q "$PACK" || die "$PACK is not git-ignored: it would travel twice (add /$PACK/ to .gitignore)"

# Reuses $PACK/$1 while the sha256 of the inputs ($2...) is the one it was made from.
fresh() {
  local name=$1; shift
  [ -f "$PACK/$name" ] && [ "$(cat "$PACK/$name.sha256" 2>/dev/null)" = "$(cat "$@" | sha256sum | cut -c1-64)" ]
}
stamp() { local name=$1; shift; cat "$@" | sha256sum | cut -c1-64 > "$PACK/$name.sha256"; }

# 1. node: the device has none. Stripped and xz -9 (95 MB -> ~22 MB; ~5 min on 2 shared cores, once).
if ! fresh node.xz "$NODE_BIN"; then
  echo "pack.sh: compressing $NODE_BIN (a few minutes)"
  strip -o "$PACK/node.tmp" "$NODE_BIN"
  xz -9 -T0 -c "$PACK/node.tmp" > "$PACK/node.xz"
  rm "$PACK/node.tmp"
  stamp node.xz "$NODE_BIN"
fi

# 2. node_modules: only the files the checks load (trace-modules.mjs), native libraries in their own
#    cached archive, the JS with the built dist folders in another.
node scripts/gpu/trace-modules.mjs "$ROOT" > "$PACK/modules.txt"
grep -E '\.(node|so[.0-9]*)$' "$PACK/modules.txt" > "$PACK/native.txt" || true
while read -r lib; do
  ldd "$lib" | awk '{print $3}' | grep "^$ROOT/node_modules/" | xargs -r realpath -m --relative-to="$ROOT" || true
done < "$PACK/native.txt" | sort -u > "$PACK/linked.txt"
sort -u "$PACK/native.txt" "$PACK/linked.txt" -o "$PACK/native.txt"
rm "$PACK/linked.txt"
mapfile -t NATIVE < "$PACK/native.txt"
if ! fresh native.tar.xz "${NATIVE[@]}"; then
  echo "pack.sh: compressing ${#NATIVE[@]} native libraries (a few minutes)"
  tar -cf - "${NATIVE[@]}" | xz -9 -T0 > "$PACK/native.tar.xz"
  stamp native.tar.xz "${NATIVE[@]}"
fi
grep -vxF -f "$PACK/native.txt" "$PACK/modules.txt" > "$PACK/js.txt"
find node_modules/@lvit-bench -maxdepth 1 -type l >> "$PACK/js.txt"
tar -cf - --exclude='*.map' --exclude='*.d.ts' -T "$PACK/js.txt" packages/*/dist scripts/dist | xz -6 -T0 > "$PACK/tree.tar.xz"

# 3. The Vulkan loader (and GL) .debs the device README names: the machine has the NVIDIA ICD, not the loader.
if [ "$(ls "$PACK"/gl/*.deb 2>/dev/null | wc -l)" -ne ${#GL_DEBS[@]} ]; then
  rm -rf "$PACK/gl" /tmp/lvit-apt-amd64 && mkdir -p "$PACK/gl" /tmp/lvit-apt-amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/lvit-apt-amd64)
  apt-get "${o[@]}" update -qq || die "apt-get update failed (the .debs need the Debian mirror)"
  (cd "$PACK/gl" && apt-get "${o[@]}" download "${GL_DEBS[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed') || die "apt-get download ${GL_DEBS[*]} failed"
fi

# 4. Data (the prepared MoNuSeg file and a listing of the data root) and PyTorch's step scripts.
rm -rf "$PACK/data" "$PACK/torch-reference"
node scripts/dist/gpu/pack-data.js --out "$PACK/data"
cp -r "$TORCH_REF" "$PACK/torch-reference"
chmod -R u+w "$PACK/torch-reference"

# 5. Size: everything the device tool sends (tracked and untracked-not-ignored files, plus the pack).
bytes() { du -cb "$@" 2>/dev/null | tail -1 | cut -f1; }
tree_bytes=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r du -cb 2>/dev/null | awk '/\ttotal$/ {s += $1} END {print s + 0}')
pack_bytes=$(bytes "$PACK")
total=$((tree_bytes + pack_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
{
  echo "node.xz            $(mib "$(bytes "$PACK/node.xz")")  (node $("$NODE_BIN" --version), stripped, xz -9)"
  echo "native.tar.xz      $(mib "$(bytes "$PACK/native.tar.xz")")  (${#NATIVE[@]} files: $(tr '\n' ' ' < "$PACK/native.txt"))"
  echo "tree.tar.xz        $(mib "$(bytes "$PACK/tree.tar.xz")")  ($(wc -l < "$PACK/js.txt") node_modules files + dist folders)"
  echo "gl/                $(mib "$(bytes "$PACK/gl")")  (${GL_DEBS[*]})"
  echo "data/              $(mib "$(bytes "$PACK/data")")  (MoNuSeg prepared at 224 + listing)"
  echo "torch-reference/   $(mib "$(bytes "$PACK/torch-reference")")"
  echo "repo files         $(mib "$tree_bytes")  (tracked + untracked-not-ignored)"
  echo "total              $(mib "$total") of 64 MiB"
} | tee "$PACK/SIZES.txt"
[ "$total" -le "$LIMIT" ] || die "the upload would be $(mib "$total"), over the device's 64 MiB limit"

cat > "$PACK/COMMAND.txt" <<CMD
device run (carry: [".gpu-pack"], timeout_s: 560):
bash scripts/gpu/run-checks.sh
CMD
echo "pack.sh: ready. Device call: run(command='bash scripts/gpu/run-checks.sh', carry=['.gpu-pack'], timeout_s=560)"
