import subprocess, sys
binary = sys.argv[1]
for shift, text, want in (("3", "Hello, World!\n", "Khoor, Zruog!\n"), ("-3", "Khoor, Zruog!\n", "Hello, World!\n"),
                          ("29", "xyz XYZ 123\n", "abc ABC 123\n"), ("0", "same\n", "same\n"), ("13", "", "")):
    p = subprocess.run([binary, shift], input=text.encode(), capture_output=True, timeout=20)
    if p.returncode != 0 or p.stdout.decode() != want:
        sys.exit(f"caesar {shift} on {text!r}: exit {p.returncode}, got {p.stdout.decode()!r}, expected {want!r}")
for args in ([], ["abc"]):
    p = subprocess.run([binary, *args], input=b"", capture_output=True, timeout=20)
    if p.returncode != 2 or not p.stderr.strip():
        sys.exit(f"caesar {' '.join(args)}: expected exit 2 with usage on stderr, got {p.returncode}")
print("caesar: ok")
