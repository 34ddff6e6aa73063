"""Runs csvsum.py on CSV files and compares the sums."""
import os, subprocess, sys, tempfile

def run(csv_text, column):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, dir=os.getcwd()) as fh:
        fh.write(csv_text)
    try:
        return subprocess.run([sys.executable, "csvsum.py", fh.name, column], capture_output=True, text=True, timeout=20)
    finally:
        os.unlink(fh.name)

data = "name,qty,price\napple,3,0.5\npear,,1.25\n\"fig, dried\",4,2\n"
p = run(data, "qty")
if p.returncode != 0 or p.stdout.strip() != "7":
    sys.exit(f"qty: expected 7, got exit {p.returncode} {p.stdout!r} {p.stderr[-300:]!r}")
p = run(data, "price")
if p.returncode != 0 or p.stdout.strip() != "3.75":
    sys.exit(f"price: expected 3.75, got exit {p.returncode} {p.stdout!r} {p.stderr[-300:]!r}")
p = run(data, "weight")
if p.returncode != 2 or "weight" not in p.stderr:
    sys.exit(f"unknown column: expected exit 2 naming it on stderr, got exit {p.returncode} {p.stderr!r}")
print("csvsum: ok")
