"""``python -m ceg``: the same as the ``ceg`` command."""

from ceg.cli import main

if __name__ == "__main__":
    main()
