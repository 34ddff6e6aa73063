#!/usr/bin/env bash
# One command from a fresh Debian/Ubuntu machine to a working Octra.
#   ./setup.sh        install everything, start the daemon, show its status
#   ./setup.sh test   install everything, then run the test suite
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(git nix-bin bubblewrap passt slirp4netns iproute2 util-linux tmux systemd)
command -v python3 >/dev/null || APT_PACKAGES+=(python3)
python3 -m venv --help >/dev/null 2>&1 || APT_PACKAGES+=(python3-venv)

need_apt=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# quiet unless it fails: setuptools' build warnings are hundreds of lines
install_log=.venv/install.log
# the packaging tests build a wheel without isolation: setuptools and wheel in the venv
if ! { .venv/bin/python -m pip install -q 'setuptools>=68' wheel && .venv/bin/python -m pip install -q -e '.[test]'; } >"$install_log" 2>&1; then
  tail -n 40 "$install_log" >&2
  echo "setup.sh: installing the Python packages failed (whole log: $install_log)" >&2
  exit 1
fi

# a daemon already serving the code from before this install is restarted (when idle)
fingerprint=$(cat pyproject.toml $(find octrad protocol octractl octra_tui -name '*.py' -o -name '*.toml' -o -name '*.tcss' | sort) | sha256sum | cut -c1-16)
if [ "$(cat .venv/.octra-fingerprint 2>/dev/null)" != "$fingerprint" ]; then
  running=$(.venv/bin/octractl --no-autostart --json status 2>/dev/null | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["tasks_running"])' 2>/dev/null || true)
  if [ "$running" = "0" ]; then
    .venv/bin/octractl --no-autostart shutdown >/dev/null && echo "restarted octrad: it was serving the code from before this install"
  elif [ -n "$running" ]; then
    echo "note: octrad still serves the code from before this install ($running task(s) running); run 'octractl shutdown' when they end" >&2
  fi
  echo "$fingerprint" > .venv/.octra-fingerprint
fi

case "${1:-run}" in
  test)
    shift || true
    # offline Nix for the tests: no substituters, nothing fetched
    export NIX_CONFIG="substituters =
experimental-features = nix-command flakes"
    set +e
    .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
    code=$?
    set -e
    # 5: no tests collected, which only happens when the selection is empty
    if [ "$code" -eq 5 ]; then code=0; fi
    exit "$code"
    ;;
  run)
    # the main job on the embedded default: with no AI provider configured the
    # offline provider builds a real project with the real toolchain
    .venv/bin/octractl status
    echo
    # one demo project however often this runs
    if .venv/bin/octractl --json projects | grep -q '"name": "octra-demo"'; then
      echo "The demo project octra-demo is built already: .venv/bin/octractl tasks"
    else
      .venv/bin/octractl run --project octra-demo "${OCTRA_DEMO_TASK:-a small command-line tool in Rust that greets the user}"
    fi
    echo
    echo "Octra is installed in $(pwd)/.venv. Next:"
    echo "  .venv/bin/octractl --help            every command"
    echo "  .venv/bin/octractl providers set ...  add an AI provider (see README)"
    echo "  .venv/bin/octra-tui                   the terminal UI"
    ;;
  *)
    echo "usage: ./setup.sh [run|test [pytest args]]" >&2
    exit 2
    ;;
esac
