"""The follow-up: PUT and ?q= work, the earlier endpoints still do."""
import os, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
from client import Server, expect

db = os.path.join(tempfile.mkdtemp(), "notes.db")
with Server(db) as s:
    code, a = s.call("POST", "/notes", {"text": "Buy milk"})
    expect("POST /notes status", code, 201)
    s.call("POST", "/notes", {"text": "call Bob"})
    expect("PUT", s.call("PUT", f"/notes/{a['id']}", {"text": "buy oat milk"}), (200, {"id": a["id"], "text": "buy oat milk"}))
    expect("PUT unknown id", s.call("PUT", "/notes/999999", {"text": "x"})[0], 404)
    expect("PUT without text", s.call("PUT", f"/notes/{a['id']}", {})[0], 400)
    code, notes = s.call("GET", "/notes?q=MILK")
    expect("GET /notes?q=MILK", (code, [n.get("text") for n in notes or []]), (200, ["buy oat milk"]))
    code, notes = s.call("GET", "/notes")
    expect("GET /notes", [n.get("text") for n in notes or []], ["buy oat milk", "call Bob"])
    expect("DELETE", s.call("DELETE", f"/notes/{a['id']}")[0], 204)
with Server(db) as s:
    expect("after a restart", [n.get("text") for n in s.call("GET", "/notes")[1] or []], ["call Bob"])
print("notes API update: ok")
