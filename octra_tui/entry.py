def main() -> None:
    from .app import run

    run()
