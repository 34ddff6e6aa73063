import subprocess, sys
binary = sys.argv[1]
text = "b\na\nB\nb\nc\na\n"
for args, want in (([], "b\na\nB\nc\n"), (["-c"], "2 b\n2 a\n1 B\n1 c\n"), (["-i"], "b\na\nc\n"), (["-c", "-i"], "3 b\n2 a\n1 c\n")):
    p = subprocess.run([binary, *args], input=text, capture_output=True, text=True, timeout=20)
    if p.returncode != 0 or p.stdout != want:
        sys.exit(f"guniq {' '.join(args)}: exit {p.returncode}, got {p.stdout!r}, expected {want!r}")
print("guniq: ok")
