"""Creates, lists, reads and deletes notes over HTTP; restarts the server to check they persist."""
import os, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from client import Server, expect

db = os.path.join(tempfile.mkdtemp(), "notes.db")
with Server(db) as s:
    code, a = s.call("POST", "/notes", {"text": "first"})
    expect("POST /notes status", code, 201)
    expect("POST /notes body", (a or {}).get("text"), "first")
    code, b = s.call("POST", "/notes", {"text": "second"})
    expect("second POST status", code, 201)
    expect("POST without text", s.call("POST", "/notes", {})[0], 400)
    code, notes = s.call("GET", "/notes")
    expect("GET /notes", (code, [n.get("text") for n in notes or []]), (200, ["first", "second"]))
    expect("GET /notes/ID", s.call("GET", f"/notes/{a['id']}"), (200, {"id": a["id"], "text": "first"}))
    expect("GET unknown id", s.call("GET", "/notes/999999")[0], 404)
    expect("DELETE", s.call("DELETE", f"/notes/{a['id']}")[0], 204)
    expect("DELETE again", s.call("DELETE", f"/notes/{a['id']}")[0], 404)
with Server(db) as s:
    code, notes = s.call("GET", "/notes")
    expect("after a restart", (code, [n.get("text") for n in notes or []]), (200, ["second"]))
print("notes API: ok")
