"""`python -m search api|worker|all|migrate|reindex|reconcile`: the entry points the image runs."""

from search.bootstrap import SERVICE
from servicekit.entrypoint import main

if __name__ == "__main__":
    raise SystemExit(main(SERVICE))
