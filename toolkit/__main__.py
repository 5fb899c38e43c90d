"""`python -m toolkit` and `accelerate launch -m toolkit` run the same CLI as the `toolkit` command."""

from toolkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
