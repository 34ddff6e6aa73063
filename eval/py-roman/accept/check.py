"""Imports the roman package and calls it."""
import sys
sys.path.insert(0, ".")
sys.path.insert(1, "src")
try:
    from roman import from_roman, to_roman
except Exception as exc:
    sys.exit(f"cannot import to_roman/from_roman from package roman: {exc!r}")
cases = {1: "I", 4: "IV", 9: "IX", 14: "XIV", 40: "XL", 90: "XC", 400: "CD", 1994: "MCMXCIV", 2024: "MMXXIV", 3999: "MMMCMXCIX"}
for n, s in cases.items():
    if to_roman(n) != s:
        sys.exit(f"to_roman({n}) = {to_roman(n)!r}, expected {s!r}")
    if from_roman(s) != n:
        sys.exit(f"from_roman({s!r}) = {from_roman(s)!r}, expected {n}")
for n in range(1, 4000):
    if from_roman(to_roman(n)) != n:
        sys.exit(f"round trip fails at {n}")
for bad in (0, 4000, -1):
    try:
        to_roman(bad)
    except ValueError:
        pass
    else:
        sys.exit(f"to_roman({bad}) did not raise ValueError")
for bad in ("IIII", "IC", "VV", "", "MMMM", "abc"):
    try:
        from_roman(bad)
    except ValueError:
        pass
    else:
        sys.exit(f"from_roman({bad!r}) did not raise ValueError")
print("roman: ok")
