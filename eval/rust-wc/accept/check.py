import subprocess, sys
binary = sys.argv[1]
for text, want in (("hello world\nsecond line here\n", "2 5 29"), ("", "0 0 0"), ("no newline", "0 2 10"),
                   ("  spaced\t\tout  \n\n", "2 2 17"), ("é\n", "1 1 3")):
    p = subprocess.run([binary], input=text.encode(), capture_output=True, timeout=20)
    if p.returncode != 0 or p.stdout.decode().split() != want.split():
        sys.exit(f"rwc on {text!r}: exit {p.returncode}, got {p.stdout.decode()!r}, expected {want!r}")
p = subprocess.run([binary, "-l"], input=b"a\nb\nc\n", capture_output=True, timeout=20)
if p.stdout.decode().split() != ["3"]:
    sys.exit(f"rwc -l: got {p.stdout.decode()!r}, expected '3'")
print("rwc: ok")
