// Requires the library and calls it.
const path = require("path");
const assert = require("assert");
let LRUCache;
try { ({ LRUCache } = require(path.resolve("lru.js"))); } catch (e) { console.error(`cannot require lru.js: ${e}`); process.exit(1); }
try {
  assert.throws(() => new LRUCache(0), RangeError);
  assert.throws(() => new LRUCache(1.5), RangeError);
  const c = new LRUCache(2);
  c.set("a", 1); c.set("b", 2);
  assert.strictEqual(c.get("a"), 1);      // a is now the most recent
  c.set("c", 3);                          // evicts b
  assert.strictEqual(c.has("b"), false);
  assert.strictEqual(c.get("b"), undefined);
  assert.strictEqual(c.size, 2);
  assert.strictEqual(c.has("a"), true);   // has() does not refresh a
  c.set("d", 4);                          // evicts a (c was set after a was read)
  assert.strictEqual(c.has("a"), false);
  assert.strictEqual(c.get("c"), 3);
  c.set("c", 30);                         // update, no eviction
  assert.strictEqual(c.size, 2);
  assert.strictEqual(c.get("c"), 30);
  assert.strictEqual(c.delete("c"), true);
  assert.strictEqual(c.delete("c"), false);
  assert.strictEqual(c.size, 1);
} catch (e) { console.error(`LRUCache: ${e.message}`); process.exit(1); }
console.log("lru: ok");
