"""`python -m portfolio api|worker|all|migrate`: the entry points the image runs."""

from portfolio.bootstrap import SERVICE
from servicekit.entrypoint import main

if __name__ == "__main__":
    raise SystemExit(main(SERVICE))
