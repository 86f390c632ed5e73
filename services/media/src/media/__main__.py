"""`python -m media api|worker|all|migrate`: the entry points the image runs."""

from media.bootstrap import SERVICE
from servicekit.entrypoint import main

if __name__ == "__main__":
    raise SystemExit(main(SERVICE))
