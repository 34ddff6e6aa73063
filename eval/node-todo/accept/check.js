// Runs todo.js in a fresh folder, command after command (the list persists in todo.json).
const { spawnSync } = require("child_process");
const fs = require("fs"), os = require("os"), path = require("path");
const script = path.resolve("todo.js");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "todo-"));
function run(...args) {
  const p = spawnSync("node", [script, ...args], { cwd: dir, encoding: "utf8", timeout: 20000 });
  return { code: p.status, out: p.stdout.trim(), err: p.stderr };
}
function expect(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) { console.error(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`); process.exit(1); }
}
expect("list when empty", run("list").out, "nothing to do");
expect("add", run("add", "buy", "milk").out, "added 1");
expect("add 2", run("add", "walk the dog").out, "added 2");
expect("list", run("list").out.split("\n"), ["1. buy milk", "2. walk the dog"]);
expect("done 1", run("done", "1").out, "done 1");
expect("list after done", run("list").out.split("\n"), ["2. walk the dog"]);
const bad = run("done", "9");
expect("done 9 (unknown): exit code", bad.code, 1);
if (!bad.err.trim()) { console.error("done 9: no error on standard error"); process.exit(1); }
if (!fs.existsSync(path.join(dir, "todo.json"))) { console.error("todo.json was not written in the current folder"); process.exit(1); }
console.log("todo: ok");
