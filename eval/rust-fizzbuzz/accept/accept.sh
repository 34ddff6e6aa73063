command -v cargo >/dev/null || { echo "cargo is not installed"; exit 77; }
cargo build --quiet --offline 2>&1 | tail -20
BIN=target/debug/fizzbuzz
[ -x "$BIN" ] || { echo "cargo build made no target/debug/fizzbuzz"; exit 1; }
exec python3 .octra-accept/check.py "$BIN"
