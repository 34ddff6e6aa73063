"""The follow-up: --min-length works, and the earlier behaviour is kept."""
import subprocess, sys

def run(args, text):
    p = subprocess.run([sys.executable, "wordfreq.py", *args], input=text, capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        sys.exit(f"wordfreq.py {' '.join(args)} exited {p.returncode}: {p.stderr[-500:]}")
    return [line.split() for line in p.stdout.strip().splitlines()]

text = "a a a a an an an the the cat\n"
got = run(["--min-length", "3"], text)
if got != [["the", "2"], ["cat", "1"]]:
    sys.exit(f"--min-length 3: got {got}")
got = run(["--top", "2"], text)
if got != [["a", "4"], ["an", "3"]]:
    sys.exit(f"without --min-length (earlier behaviour): got {got}")
got = run(["--top", "1", "--min-length", "2"], text)
if got != [["an", "3"]]:
    sys.exit(f"--top 1 --min-length 2: got {got}")
print("wordfreq --min-length: ok")
