import argparse, re, sys
from collections import Counter

def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--min-length", type=int, default=1)
    a = ap.parse_args(argv)
    words = [w for w in re.findall(r"[A-Za-z0-9']+", sys.stdin.read().lower()) if len(w) >= a.min_length]
    for w, n in sorted(Counter(words).items(), key=lambda kv: (-kv[1], kv[0]))[: a.top]:
        print(w, n)

if __name__ == "__main__":
    main()
