import subprocess, sys
binary = sys.argv[1]
p = subprocess.run([binary, "15"], capture_output=True, text=True, timeout=20)
want = ["1", "2", "Fizz", "4", "Buzz", "Fizz", "7", "8", "Fizz", "Buzz", "11", "Fizz", "13", "14", "FizzBuzz"]
if p.returncode != 0 or p.stdout.split() != want:
    sys.exit(f"fizzbuzz 15: exit {p.returncode}, output {p.stdout.split()!r}, expected {want}")
for args in ([], ["x"]):
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=20)
    if p.returncode != 2 or not p.stderr.strip():
        sys.exit(f"fizzbuzz {' '.join(args)}: expected exit 2 with usage on stderr, got {p.returncode} {p.stderr!r}")
print("fizzbuzz: ok")
