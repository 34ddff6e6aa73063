function kmToMiles(km) {
  return km * 0.621371;
}
if (typeof module !== "undefined") module.exports = { kmToMiles };
