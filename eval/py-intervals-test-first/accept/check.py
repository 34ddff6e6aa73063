"""The project's own tests exist and pass, and merge() is right on hidden cases."""
import os, subprocess, sys
sys.path.insert(0, ".")
if not os.path.isfile("tests/test_intervals.py"):
    sys.exit("tests/test_intervals.py is missing (the task asked for tests first)")
p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_intervals.py"],
                   capture_output=True, text=True, timeout=120)
if p.returncode == 5 or "no tests ran" in p.stdout:
    sys.exit("tests/test_intervals.py holds no test")
if p.returncode != 0:
    sys.exit(f"the project's own tests fail:\n{p.stdout[-1500:]}")
try:
    from intervals import merge
except Exception as exc:
    sys.exit(f"cannot import merge from intervals: {exc!r}")
cases = [([], []), ([(1, 2)], [(1, 2)]), ([(5, 7), (1, 3), (2, 4), (7, 9)], [(1, 4), (5, 9)]),
         ([(1, 10), (2, 3), (4, 5)], [(1, 10)]), ([(3, 3), (1, 2)], [(1, 2), (3, 3)]), ([(0, 1), (1, 1)], [(0, 1)])]
for given, want in cases:
    got = [tuple(x) for x in merge(list(given))]
    if got != want:
        sys.exit(f"merge({given}) = {got}, expected {want}")
try:
    merge([(3, 1)])
except ValueError:
    pass
else:
    sys.exit("merge([(3, 1)]) did not raise ValueError")
print("intervals: ok")
