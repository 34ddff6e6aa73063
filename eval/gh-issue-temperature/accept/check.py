"""The issue is fixed: negative values convert right, the rest still does."""
import sys
sys.path.insert(0, ".")
from tempconv import to_celsius, to_fahrenheit
for c, f in ((-40, -40), (-10, 14), (0, 32), (100, 212), (37, 98.6)):
    if abs(to_fahrenheit(c) - f) > 1e-9:
        sys.exit(f"to_fahrenheit({c}) = {to_fahrenheit(c)}, expected {f}")
    if abs(to_celsius(f) - c) > 1e-9:
        sys.exit(f"to_celsius({f}) = {to_celsius(f)}, expected {c}")
print("tempconv: ok")
