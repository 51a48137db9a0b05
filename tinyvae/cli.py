"""The ``tinyvae`` command line.

    tinyvae gradcheck            check every hand-derived gradient by finite differences

Every user error ends with one line on stderr and a non-zero exit (2 for usage errors),
never a traceback.
"""
import argparse
import sys

from .errors import TinyVAEError


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (exit 2), without the usage dump."""

    def error(self, message):
        self.exit(2, f"tinyvae: error: {message} (see '{self.prog} --help')\n")


def _cmd_gradcheck(args):
    from . import gradcheck

    rows = gradcheck.run_all(seed=args.seed)
    print(gradcheck.format_table(rows))
    return 0 if max(err for _, err in rows) <= gradcheck.TOLERANCE else 1


def build_parser():
    p = _Parser(prog="tinyvae", description="Autoencoders, DAEs, VAEs and the beta-VAE in NumPy, "
                                            "with hand-derived gradients.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    g = sub.add_parser("gradcheck", help="check every gradient against central differences")
    g.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    g.set_defaults(func=_cmd_gradcheck)
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TinyVAEError as err:
        print(f"tinyvae: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":
    sys.exit(main())
