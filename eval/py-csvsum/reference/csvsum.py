import csv, sys

def main():
    path, column = sys.argv[1], sys.argv[2]
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if column not in (reader.fieldnames or []):
            print(f"unknown column: {column}", file=sys.stderr)
            sys.exit(2)
        total = sum(float(row[column]) for row in reader if row[column].strip())
    print(int(total) if total == int(total) else f"{total:.6f}".rstrip("0"))

main()
