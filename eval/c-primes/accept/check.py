import subprocess, sys, time
binary = sys.argv[1]
p = subprocess.run([binary, "30"], capture_output=True, text=True, timeout=20)
if p.returncode != 0 or p.stdout.split() != "2 3 5 7 11 13 17 19 23 29".split():
    sys.exit(f"primes 30: exit {p.returncode}, got {p.stdout.split()!r}")
for n, want in (("1", []), ("2", ["2"])):
    p = subprocess.run([binary, n], capture_output=True, text=True, timeout=20)
    if p.returncode != 0 or p.stdout.split() != want:
        sys.exit(f"primes {n}: exit {p.returncode}, got {p.stdout.split()!r}, expected {want}")
start = time.monotonic()
p = subprocess.run([binary, "10000000"], capture_output=True, text=True, timeout=60)
took = time.monotonic() - start
out = p.stdout.split()
if p.returncode != 0 or len(out) != 664579 or out[-1] != "9999991":
    sys.exit(f"primes 10000000: exit {p.returncode}, {len(out)} primes (expected 664579), last {out[-1:]}")
if took > 10:
    sys.exit(f"primes 10000000 took {took:.1f}s")
p = subprocess.run([binary], capture_output=True, text=True, timeout=20)
if p.returncode != 2 or not p.stderr.strip():
    sys.exit(f"primes with no N: expected exit 2 with usage on stderr, got {p.returncode}")
print(f"primes: ok ({took:.2f}s for N = 10000000)")
