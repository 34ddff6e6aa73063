const path = require("path");
let m;
try { m = require(path.resolve("convert.js")); } catch (e) { console.error(`cannot require convert.js: ${e}`); process.exit(1); }
const f = m.kmToMiles || (typeof m === "function" ? m : undefined);
if (typeof f !== "function") { console.error("convert.js exports no kmToMiles"); process.exit(1); }
for (const [km, miles] of [[1, 0.621371], [10, 6.21371], [0, 0], [42.195, 26.2188]]) {
  if (Math.abs(f(km) - miles) > 1e-3) { console.error(`kmToMiles(${km}) = ${f(km)}, expected ${miles}`); process.exit(1); }
}
console.log("convert.js: ok");
