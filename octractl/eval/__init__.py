"""``octractl eval``: how often Octra's projects actually work, per provider and model.

One job per module: :mod:`.suite` reads a suite folder, :mod:`.runner` drives
its tasks through the daemon and runs their acceptance, :mod:`.results` keeps
``results.json`` (resumable), :mod:`.report` prints the table and writes
``report.html``, :mod:`.compare` sets two runs side by side.
"""
