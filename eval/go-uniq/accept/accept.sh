command -v go >/dev/null || { echo "go is not installed"; exit 77; }
GOFLAGS=-mod=mod GOPROXY=off go build -o .octra-accept/guniq . || { echo "go build failed"; exit 1; }
exec python3 .octra-accept/check.py .octra-accept/guniq
