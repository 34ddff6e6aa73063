# compiles src/stats.ts with the project's or the system's tsc, then calls it from node
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
TSC=""
if [ -x node_modules/.bin/tsc ]; then TSC=node_modules/.bin/tsc; elif command -v tsc >/dev/null; then TSC=tsc; fi
[ -n "$TSC" ] || { echo "tsc (TypeScript) is not installed here nor in node_modules"; exit 77; }
[ -f src/stats.ts ] || { echo "src/stats.ts is missing"; exit 1; }
OUT=$(mktemp -d)
$TSC --strict --target es2019 --module commonjs --outDir "$OUT" src/stats.ts || { echo "src/stats.ts does not compile with --strict"; exit 1; }
exec node .octra-accept/check.js "$OUT/stats.js"
