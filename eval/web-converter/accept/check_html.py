"""index.html has the title, the two elements, and loads convert.js from the project (no external asset)."""
import sys
from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.scripts, self.external, self.title, self._in_title = {}, [], [], "", False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] = tag
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
        for key in ("src", "href"):
            if (a.get(key) or "").startswith(("http:", "https:", "//")):
                self.external.append(a[key])
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


try:
    page = Page()
    page.feed(open("index.html", encoding="utf-8").read())
except OSError as exc:
    sys.exit(f"index.html: {exc}")
if page.title.strip() != "Distance converter":
    sys.exit(f"title is {page.title.strip()!r}, expected 'Distance converter'")
if page.ids.get("km") != "input":
    sys.exit(f"no <input id=\"km\"> (ids: {page.ids})")
if "miles" not in page.ids:
    sys.exit("no element with id \"miles\"")
if not any(s.split("?")[0].lstrip("./") == "convert.js" for s in page.scripts):
    sys.exit(f"the page does not load convert.js (scripts: {page.scripts})")
if page.external:
    sys.exit(f"external assets: {page.external}")
print("index.html: ok")
