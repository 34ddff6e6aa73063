command -v cargo >/dev/null || { echo "cargo is not installed"; exit 77; }
cargo build --quiet --offline 2>&1 | tail -20
BIN=target/debug/rwc
[ -x "$BIN" ] || { echo "cargo build made no target/debug/rwc"; exit 1; }
exec python3 .octra-accept/check.py "$BIN"
