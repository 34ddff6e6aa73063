command -v make >/dev/null && { command -v cc >/dev/null || command -v gcc >/dev/null; } || { echo "make or a C compiler is not installed"; exit 77; }
make 2>&1 | tail -20
[ -x ./caesar ] || { echo "make built no ./caesar"; exit 1; }
exec python3 .octra-accept/check.py ./caesar
