const fs = require("fs");
const FILE = "todo.json";
const items = fs.existsSync(FILE) ? JSON.parse(fs.readFileSync(FILE, "utf8")) : [];
const save = () => fs.writeFileSync(FILE, JSON.stringify(items, null, 2));
const [cmd, ...rest] = process.argv.slice(2);
if (cmd === "add") { items.push({ n: items.length + 1, text: rest.join(" "), done: false }); save(); console.log(`added ${items.length}`); }
else if (cmd === "list") { const open = items.filter((i) => !i.done); console.log(open.length ? open.map((i) => `${i.n}. ${i.text}`).join("\n") : "nothing to do"); }
else if (cmd === "done") { const it = items.find((i) => i.n === Number(rest[0]) && !i.done); if (!it) { console.error(`no open item ${rest[0]}`); process.exit(1); } it.done = true; save(); console.log(`done ${it.n}`); }
else { console.error("usage: todo.js add|list|done"); process.exit(2); }
