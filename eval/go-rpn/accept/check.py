import subprocess, sys
binary = sys.argv[1]
for expr, want in (("3 4 + 2 *", "14"), ("10 4 /", "2.5"), ("1.5 1.5 +", "3"), ("5 1 2 + 4 * + 3 -", "14"), ("2 3 -", "-1")):
    p = subprocess.run([binary, expr], capture_output=True, text=True, timeout=20)
    if p.returncode != 0 or p.stdout.strip() != want:
        sys.exit(f"rpn {expr!r}: exit {p.returncode}, got {p.stdout.strip()!r}, expected {want!r}")
for expr in ("1 0 /", "1 +", "2 x *", "1 2"):
    p = subprocess.run([binary, expr], capture_output=True, text=True, timeout=20)
    if p.returncode != 1 or not p.stderr.strip():
        sys.exit(f"rpn {expr!r}: expected exit 1 with an error on stderr, got {p.returncode} {p.stderr!r}")
print("rpn: ok")
