// Runs slugify.js with arguments and on standard input, and compares the slugs.
const { spawnSync } = require("child_process");
function run(args, input) {
  const p = spawnSync("node", ["slugify.js", ...args], { input: input || "", encoding: "utf8", timeout: 20000 });
  if (p.status !== 0) { console.error(`slugify.js ${args.join(" ")} exited ${p.status}: ${p.stderr}`); process.exit(1); }
  return p.stdout.trim();
}
const cases = [[["Hello", "World"], "hello-world"], [["  Crème brûlée: 2 cups!  "], "creme-brulee-2-cups"],
               [["a--b__c"], "a-b-c"], [["--Top 10--"], "top-10"]];
for (const [args, want] of cases) {
  const got = run(args);
  if (got !== want) { console.error(`slugify ${JSON.stringify(args)}: expected ${want}, got ${got}`); process.exit(1); }
}
const piped = run([], "Über Straße\n");
if (!["uber-strasse", "uber-strae", "uber-stra-e"].includes(piped)) { console.error(`stdin: got ${piped}`); process.exit(1); }
console.log("slugify: ok");
