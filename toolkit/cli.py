"""The `toolkit` command: a thin shim over toolkit.api. Bad input prints one message and exits 2."""

from __future__ import annotations

import argparse
import json
import sys
import traceback

from toolkit.errors import ToolkitError

OVERRIDES_HELP = "dotted overrides, e.g. training.learning_rate=1e-4 data.limit=200"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolkit", description="Fine-tune language models from recipes.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train what a recipe describes")
    train.add_argument("recipe")
    train.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    train.add_argument("--overwrite", action="store_true", help="replace a finished run in output_dir")

    check = commands.add_parser("check", help="validate a recipe and print what would run, without training")
    check.add_argument("recipe")
    check.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)

    predict = commands.add_parser("predict", help="label texts with a trained classifier")
    predict.add_argument("model_dir")
    predict.add_argument("texts", nargs="*", help="texts to label (or --file)")
    predict.add_argument("--file", help="a text file, one input per line")
    return parser


def run(args: argparse.Namespace) -> int:
    from toolkit import api

    if args.command == "train":
        overrides = list(args.overrides) + (["overwrite=true"] if args.overwrite else [])
        api.train(args.recipe, overrides)
    elif args.command == "check":
        facts = api.check(args.recipe, args.overrides)
        print(json.dumps(facts, indent=2))
    elif args.command == "predict":
        texts = list(args.texts)
        if args.file:
            try:
                with open(args.file, encoding="utf-8") as handle:
                    texts += [line.rstrip("\n") for line in handle if line.strip()]
            except OSError as error:
                raise ToolkitError(f"{args.file}: cannot read it ({error.strerror}).") from None
        if not texts:
            raise ToolkitError("predict: give texts as arguments or --file FILE.")
        for text, output in zip(texts, api.predict(args.model_dir, texts)):
            print(json.dumps({"text": text, **output}, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ToolkitError as error:
        if args.debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
