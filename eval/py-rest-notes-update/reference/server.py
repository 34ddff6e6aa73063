import argparse, json, re, sqlite3
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def make_handler(db):
    conn = sqlite3.connect(db, check_same_thread=False)
    conn.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL)")
    conn.commit()

    class H(BaseHTTPRequestHandler):
        def send(self, code, obj=None):
            body = b"" if obj is None else json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(n) or b"{}")
            except ValueError:
                return {}

        def note_id(self):
            m = re.fullmatch(r"/notes/(\d+)", urlsplit(self.path).path)
            return int(m.group(1)) if m else None

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/notes":
                q = parse_qs(url.query).get("q", [""])[0]
                rows = conn.execute("SELECT id, text FROM notes WHERE instr(lower(text), lower(?)) > 0 ORDER BY id", (q,)).fetchall()
                return self.send(200, [{"id": i, "text": t} for i, t in rows])
            nid = self.note_id()
            row = conn.execute("SELECT id, text FROM notes WHERE id = ?", (nid,)).fetchone() if nid else None
            self.send(200, {"id": row[0], "text": row[1]}) if row else self.send(404, {"error": "not found"})

        def do_POST(self):
            if urlsplit(self.path).path != "/notes":
                return self.send(404, {"error": "not found"})
            text = self.body().get("text")
            if not isinstance(text, str) or not text:
                return self.send(400, {"error": "text required"})
            cur = conn.execute("INSERT INTO notes(text) VALUES (?)", (text,))
            conn.commit()
            self.send(201, {"id": cur.lastrowid, "text": text})

        def do_PUT(self):
            nid = self.note_id()
            text = self.body().get("text")
            if not isinstance(text, str) or not text:
                return self.send(400, {"error": "text required"})
            cur = conn.execute("UPDATE notes SET text = ? WHERE id = ?", (text, nid))
            conn.commit()
            self.send(200, {"id": nid, "text": text}) if cur.rowcount else self.send(404, {"error": "not found"})

        def do_DELETE(self):
            cur = conn.execute("DELETE FROM notes WHERE id = ?", (self.note_id(),))
            conn.commit()
            self.send(204) if cur.rowcount else self.send(404, {"error": "not found"})

        def log_message(self, *a):
            pass

    return H


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--db", default="notes.db")
    a = ap.parse_args()
    ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(a.db)).serve_forever()
