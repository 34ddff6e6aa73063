exec python3 .octra-accept/check.py
