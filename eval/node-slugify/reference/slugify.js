function slugify(text) {
  return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
}
const args = process.argv.slice(2);
if (args.length) console.log(slugify(args.join(" ")));
else { let s = ""; process.stdin.on("data", (d) => (s += d)); process.stdin.on("end", () => console.log(slugify(s))); }
