const assert = require("assert");
const s = require(process.argv[2]);
try {
  assert.strictEqual(s.mean([1, 2, 3, 4]), 2.5);
  assert.strictEqual(s.median([5, 1, 3]), 3);
  assert.strictEqual(s.median([4, 1, 3, 2]), 2.5);
  assert.deepStrictEqual(s.mode([3, 1, 3, 2, 1]), [1, 3]);
  assert.deepStrictEqual(s.mode([7]), [7]);
  for (const f of ["mean", "median", "mode"]) assert.throws(() => s[f]([]), Error, `${f}([]) must throw`);
} catch (e) { console.error(`stats: ${e.message}`); process.exit(1); }
console.log("stats: ok");
