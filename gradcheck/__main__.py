"""``python -m gradcheck``: the same command line as the ``gradcheck`` console script."""

from gradcheck.cli import app

if __name__ == "__main__":
    app(prog_name="gradcheck")
