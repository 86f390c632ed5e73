"""`python -m auth api|worker|all|migrate|keygen`: the entry points the image runs."""

from auth.bootstrap import SERVICE
from servicekit.entrypoint import main

if __name__ == "__main__":
    raise SystemExit(main(SERVICE))
