"""`python -m charrnn` runs the same CLI as the `charrnn` command."""

from charrnn.cli import main

if __name__ == "__main__":
    main()
