python3 .octra-accept/check_html.py || exit 1
command -v node >/dev/null || { echo "node is not installed: convert.js was not run"; exit 77; }
exec node .octra-accept/check.js
