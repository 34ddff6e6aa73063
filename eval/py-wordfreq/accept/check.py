"""Runs wordfreq.py with inputs and compares its output."""
import subprocess, sys

def run(args, text):
    p = subprocess.run([sys.executable, "wordfreq.py", *args], input=text, capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        sys.exit(f"wordfreq.py {' '.join(args)} exited {p.returncode}: {p.stderr[-500:]}")
    return [line.split() for line in p.stdout.strip().splitlines()]

got = run(["--top", "3"], "The cat and the hat. THE END, and the cat!\n")
want = [["the", "4"], ["and", "2"], ["cat", "2"]]
if got != want:
    sys.exit(f"--top 3: expected {want}, got {got}")
text = " ".join(f"w{i} " * (30 - i) for i in range(15))
got = run([], text)
if len(got) != 10 or got[0] != ["w0", "30"] or got[9] != ["w9", "21"]:
    sys.exit(f"default --top 10: got {got}")
got = run(["--top", "5"], "don't Don't stop 42 42 42\n")
if got[:2] != [["42", "3"], ["don't", "2"]]:
    sys.exit(f"apostrophes/digits: got {got}")
print("wordfreq: ok")
