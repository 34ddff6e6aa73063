command -v node >/dev/null || { echo "node is not installed"; exit 77; }
exec node .octra-accept/check.js
