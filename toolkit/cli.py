"""The `toolkit` command: a thin shim over toolkit.api. Bad input prints one message and exits 2."""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import traceback
import warnings
from pathlib import Path

import yaml

from toolkit import __version__
from toolkit.errors import ToolkitError, not_utf8

OVERRIDES_HELP = "dotted overrides, e.g. training.learning_rate=1e-4 data.limit=200"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolkit", description="Fine-tune language models from recipes.")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    parser.add_argument("--version", action="version", version=f"toolkit {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show the libraries' own reports (e.g. "
                                                                "transformers' table of weights a checkpoint lacks)")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train what a recipe describes")
    train.add_argument("recipe")
    train.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)

    check = commands.add_parser("check", help="validate a recipe and print what would run, without training")
    check.add_argument("recipe")
    check.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    check.add_argument("--show", type=int, default=0, metavar="N",
                       help="print the first N training examples as the trainer sees them: tokens, which carry loss, "
                            "what max_length cuts")
    check.add_argument("--preflight", action="store_true",
                       help="rlhf: also sample from the starting policy and score every reward, as a run does "
                            "before training (rl.preflight), and say whether RL can learn from it")

    init = commands.add_parser("init", help="write a starter recipe fitted to a data file (columns, labels, sizes)")
    init.add_argument("--task", required=True, help="classification, pretrain, mlm, sft, reward, dpo, kto, orpo, rlhf")
    init.add_argument("--data", required=True, help="the training file (JSONL, JSON, CSV, Parquet, text)")
    init.add_argument("--output", help="the recipe to write (default: DATA's name + -TASK.yaml, beside it); never "
                                       "replaces a file")
    init.add_argument("--model", help="the model to start from (default: MiniLM for classification, reward, mlm; "
                                      "GPT-2 small from the hub otherwise)")

    tokenize = commands.add_parser("tokenize", help="write a pretrain/mlm recipe's token blocks as shards, to train "
                                                     "on many times without tokenizing again")
    tokenize.add_argument("recipe")
    tokenize.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    tokenize.add_argument("--output", required=True, help="the folder to write (tokenizer/, train/, validation/, ...)")
    tokenize.add_argument("--overwrite", action="store_true", help="replace a folder that is not empty")

    evaluate = commands.add_parser("eval", help="recompute a finished run's held-out metrics from its saved model")
    evaluate.add_argument("model_dir")
    evaluate.add_argument("--data", help="evaluate this file instead (in the recipe's columns)")
    evaluate.add_argument("--split", action="append", dest="splits", help="validation or test (default: both)")
    evaluate.add_argument("--harness", help="comma-separated lm-eval tasks to run on the model instead (needs lm-eval)")
    evaluate.add_argument("--harness-include", help="a folder of lm-eval task YAML files (e.g. tasks over local files)")
    evaluate.add_argument("--limit", type=int, help="--harness: at most this many examples per task")

    report = commands.add_parser("report", help="rebuild a run's model card, report.md and report.html")
    report.add_argument("run_dir")

    compare = commands.add_parser("compare", help="two runs side by side on one HTML page")
    compare.add_argument("first")
    compare.add_argument("second")
    compare.add_argument("--output", help="the page to write (default: compare-A-vs-B.html here)")
    compare.add_argument("--judge", help="a reward run's folder or a causal LM: score both runs' answers to the same "
                                         "held-out prompts and report the first's win rate")

    predict = commands.add_parser("predict", help="label texts with a trained classifier")
    predict.add_argument("model_dir")
    predict.add_argument("texts", nargs="*", help="texts to label (or --file)")
    predict.add_argument("--file", help="a text file, one input per line")

    generate = commands.add_parser("generate", help="generate text with a trained pretrain/SFT model")
    generate.add_argument("model_dir")
    generate.add_argument("prompts", nargs="+")
    chat = commands.add_parser("chat", help="talk to a trained SFT model, which sees the whole conversation "
                                            "(/reset starts a new one; empty line or Ctrl-D to stop)")
    chat.add_argument("model_dir")
    for sub in (generate, chat):
        sub.add_argument("--max-new-tokens", type=int, default=64)
        sub.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
        sub.add_argument("--top-p", type=float, default=1.0)
        sub.add_argument("--seed", type=int, default=0)
    generate.add_argument("--no-chat", action="store_true", help="plain continuation, no chat template")

    score = commands.add_parser("score", help="score replies with a trained reward model")
    score.add_argument("model_dir")
    score.add_argument("texts", nargs="+", help="replies to score")
    score.add_argument("--prompt", help="the prompt the replies answer")

    launch = commands.add_parser(
        "launch", help="check a recipe in this process, then run it with accelerate launch (its options after --)",
        description="toolkit launch RECIPE [overrides] [--overwrite|--resume] -- [accelerate launch options], e.g. "
                    "toolkit launch recipes/classification/minilm-toy-sms.yaml -- --multi_gpu --num_processes 2. "
                    "A bad recipe, an occupied output folder or a launch this machine cannot run (FSDP or "
                    "DeepSpeed without GPUs, DeepSpeed not installed, more processes than CPU cores without --force) "
                    "stops here, with one message, before any process starts.")
    launch.add_argument("recipe")
    launch.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    launch.add_argument("--force", action="store_true", help="start more processes than this machine has CPU cores")

    recipes = commands.add_parser("recipes", help="list the recipes in ./recipes (a checkout's), with what each does")
    recipes.add_argument("--dir", default="recipes", help="where to look (default: ./recipes)")

    for sub in (train, check, launch):
        sub.add_argument("--overwrite", action="store_true", help="replace a finished run in output_dir")
        sub.add_argument("--resume", action="store_true", help="continue from the last checkpoint in output_dir")

    corpus = commands.add_parser(
        "prepare-corpus", help="clean a recipe's corpus files (data.clean) with datatrove, locally or on Slurm",
        description="Runs data.clean's steps (language, quality filters, exact and near duplicates) over the "
                    "recipe's train/validation/test files as a datatrove pipeline and writes the kept documents, "
                    "one <split>.jsonl each, with datatrove's logs and report.json. A rerun skips finished tasks.")
    corpus.add_argument("recipe")
    corpus.add_argument("overrides", nargs="*", help=OVERRIDES_HELP)
    corpus.add_argument("--output", help="the folder to write (default: training.output_dir + '-corpus')")
    corpus.add_argument("--executor", choices=["local", "slurm"], default="local")
    corpus.add_argument("--tasks", type=int, help="shards of the corpus (default: data.clean.tasks)")
    corpus.add_argument("--workers", type=int, help="tasks run at once (default: data.clean.workers)")
    corpus.add_argument("--tokenize", action="store_true", help="end by writing the kept documents' token shards "
                                                                 "(OUTPUT/tokens, as `toolkit tokenize` writes them)")
    slurm = corpus.add_argument_group("slurm", "for --executor slurm (datatrove's SlurmPipelineExecutor)")
    slurm.add_argument("--partition")
    slurm.add_argument("--time", help="each job's time limit, e.g. 2:00:00")
    slurm.add_argument("--cpus-per-task", type=int)
    slurm.add_argument("--mem-per-cpu-gb", type=int)
    slurm.add_argument("--qos")
    slurm.add_argument("--job-name")
    slurm.add_argument("--venv-path", help="an activate script the jobs source (default: this environment's)")

    fill = commands.add_parser("fill-mask", help="predict the [MASK] token with a trained mlm model")
    fill.add_argument("model_dir")
    fill.add_argument("texts", nargs="+")
    fill.add_argument("--top-k", type=int, default=5)

    # Every command that loads a model or tokenizer: a folder that ships its own Python code (auto_map) is refused
    # unless this flag (or, in a recipe, model.trust_remote_code: true) says to run it.
    for sub in (train, check, launch, tokenize, corpus, evaluate, compare, predict, generate, chat, score, fill):
        sub.add_argument("--trust-remote-code", action="store_true",
                         help="run Python code that a model folder ships (auto_map); off by default")
    return parser


def trusted(args: argparse.Namespace) -> bool:
    return getattr(args, "trust_remote_code", False)


def train(args, api) -> None:
    api.train(args.recipe, with_flags(args))


def check(args, api) -> None:
    facts = api.check(args.recipe, with_flags(args), show=args.show, preflight=args.preflight)
    shown = facts.pop("examples", None) if isinstance(facts, dict) else None
    print(yaml.safe_dump({"would run": facts}, sort_keys=False, allow_unicode=True), end="")
    if shown is not None:
        print_examples(shown)


def prepare_corpus(args, api) -> None:
    names = ("partition", "time", "cpus_per_task", "mem_per_cpu_gb", "qos", "job_name", "venv_path")
    slurm = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if slurm and args.executor != "slurm":
        raise ToolkitError(f"prepare-corpus: --{next(iter(slurm)).replace('_', '-')} is a Slurm option; add "
                           f"--executor slurm.")
    facts = api.prepare_corpus_files(args.recipe, with_flags(args), args.output, args.executor, args.tasks,
                                     args.workers, slurm if args.executor == "slurm" else None, args.tokenize)
    print(yaml.safe_dump(facts, sort_keys=False, allow_unicode=True), end="")


def init(args, api) -> None:
    output = args.output or str(Path(args.data).with_name(f"{Path(args.data).stem}-{args.task}.yaml"))
    path = api.init(args.task, args.data, output, args.model)
    print(f"wrote {path}; next: toolkit check {path}, then toolkit train {path}")


def tokenize(args, api) -> None:
    overrides = list(args.overrides) + (["model.trust_remote_code=true"] if trusted(args) else [])
    summary = api.tokenize(args.recipe, args.output, overrides, overwrite=args.overwrite)
    print(yaml.safe_dump({"tokenized": summary}, sort_keys=False, allow_unicode=True), end="")


def evaluate(args, api) -> None:
    if args.harness:
        tasks = [task.strip() for task in args.harness.split(",") if task.strip()]
        print(json.dumps(api.harness(args.model_dir, tasks, args.harness_include, args.limit, trusted(args)),
                         indent=2))
    else:
        print(json.dumps(api.evaluate(args.model_dir, args.data, args.splits, trust_remote_code=trusted(args)),
                         indent=2))


def report(args, api) -> None:
    for name, path in api.report(args.run_dir).items():
        print(f"{name}: {path}")


def compare(args, api) -> None:
    judged = api.judge_runs(args.first, args.second, args.judge, trusted(args)) if args.judge else None
    if judged:
        from toolkit.metrics.judge import summary_line

        print(summary_line(judged))
    print(api.compare(args.first, args.second, args.output, judged))


def predict(args, api) -> None:
    texts = list(args.texts) + (text_lines(args.file) if args.file else [])
    if not texts:
        raise ToolkitError("predict: give texts as arguments or --file FILE.")
    for text, output in zip(texts, api.predict(args.model_dir, texts, trust_remote_code=trusted(args)), strict=True):
        print(json.dumps({"text": text, **output}, ensure_ascii=False))


def generate(args, api) -> None:
    outputs = api.generate(args.model_dir, args.prompts, args.max_new_tokens, args.temperature, args.top_p,
                           chat=False if args.no_chat else None, seed=args.seed, trust_remote_code=trusted(args))
    for prompt, output in zip(args.prompts, outputs, strict=True):
        print(json.dumps({"prompt": prompt, "output": output}, ensure_ascii=False))


def score(args, api) -> None:
    prompts = args.prompt and [args.prompt] * len(args.texts)
    scores = api.score(args.model_dir, args.texts, prompts, trust_remote_code=trusted(args))
    for text, value in zip(args.texts, scores, strict=True):
        print(json.dumps({"text": text, "score": round(value, 4)}, ensure_ascii=False))


def fill_mask(args, api) -> None:
    for text, output in zip(args.texts, api.fill_mask(args.model_dir, args.texts, args.top_k, trusted(args)),
                            strict=True):
        print(json.dumps({"text": text, "predictions": output}, ensure_ascii=False))


# Each command and the function that runs it, given the parsed arguments and toolkit.api.
COMMANDS = {"train": train, "launch": lambda args, api: launch_checked(args), "check": check, "init": init,
            "prepare-corpus": prepare_corpus, "tokenize": tokenize, "eval": evaluate, "report": report,
            "compare": compare, "predict": predict, "generate": generate, "chat": lambda args, api: chat_loop(args),
            "score": score, "fill-mask": fill_mask}


def run(args: argparse.Namespace) -> int:
    if args.command == "recipes":  # lists files: no need to import torch and transformers
        return list_recipes(Path(args.dir))
    from toolkit import api

    return COMMANDS[args.command](args, api) or 0


def text_lines(file: str) -> list[str]:
    """The non-blank lines of a UTF-8 text file (predict --file); bytes that are not UTF-8 are named by line."""
    try:
        raw = Path(file).read_bytes()
    except OSError as error:
        raise ToolkitError(f"{file}: cannot read it ({error.strerror}).") from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ToolkitError(f"{file}: {not_utf8(raw, error)}.") from error
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [line for line in lines if line.strip()]


def print_examples(shown: list[dict]) -> None:
    """Examples as the trainer sees them: colour on a terminal, [[ ]] around trained tokens otherwise."""
    from toolkit.trained_view import legend, render

    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    print(f"\nexamples as the trainer sees them ({legend(colour)}):")
    for example in shown:
        print(render(example, colour))


def with_flags(args: argparse.Namespace) -> list[str]:
    """A recipe command's overrides, with its flags as the recipe keys they stand for."""
    flags = {"overwrite": "overwrite=true", "resume": "resume=true", "trust_remote_code": "model.trust_remote_code=true"}
    return list(args.overrides) + [key for flag, key in flags.items() if getattr(args, flag, False)]


def launch_checked(args: argparse.Namespace) -> int:
    """Everything `train` would refuse is refused here, once, before accelerate starts any process (an error
    inside launched processes is printed by each and wrapped in the launcher's own traceback)."""
    import subprocess

    from toolkit import api
    from toolkit.launch_check import check_launch
    from toolkit.pipeline import is_pipeline
    from toolkit.recipe import load_recipe
    from toolkit.run_folder import folder_plan

    check_launch(args.accelerate, args.force)  # what this machine cannot run (FSDP without GPUs, ...) first
    overrides = with_flags(args)
    api.check(args.recipe, overrides)
    if not is_pipeline(args.recipe):
        refusal = folder_plan(load_recipe(args.recipe, overrides))[1]
        if refusal:
            raise ToolkitError(refusal)
    command = [sys.executable, "-m", "accelerate.commands.launch", *args.accelerate, "-m", "toolkit", "train",
               args.recipe, *overrides]
    print("launching: accelerate launch " + " ".join(command[3:]), flush=True)
    return subprocess.run(command).returncode


def interrupted_line(args: argparse.Namespace, stop: KeyboardInterrupt) -> str:
    """One line for Ctrl-C. For a run: what it kept, and the exact `toolkit train` command that continues it (the
    same overrides, --resume from its last checkpoint, or what starts it again)."""
    from toolkit.interrupted import Interrupted

    if not isinstance(stop, Interrupted):
        return "interrupted."
    overrides = [item for item in args.overrides if item.split("=")[0] not in ("overwrite", "resume")]
    overrides += ["--trust-remote-code"] if args.trust_remote_code else []
    recipe = stop.recipe if stop.pipeline else args.recipe
    command = shlex.join(["toolkit", "train", recipe, *overrides, *([stop.flag] if stop.flag else [])])
    kept = f"{stop.checkpoint} is kept" if stop.checkpoint else "no checkpoint was saved"
    then = (f", then {shlex.join(['toolkit', 'train', args.recipe, *overrides])} for the stages after it"
            if stop.pipeline else "")
    return f"interrupted: {kept}; continue with: {command}{then}"


def list_recipes(folder: Path) -> int:
    """Each recipe and pipeline under `folder`, with the first sentence of its opening comment."""
    if not folder.is_dir():
        raise ToolkitError(f"{folder}: no such folder. The shipped recipes live in the project's recipes/ folder "
                           f"(a clone of the repository); run this from its root or pass --dir.")
    for path in sorted(folder.rglob("*.yaml")):
        if "accelerate" in path.parts:
            continue
        print(f"{path}  {first_sentence(path.read_text(encoding='utf-8'))}")
    return 0


SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)\.(?=\s|$)")  # a period that ends a sentence, not "e.g."


def first_sentence(recipe_text: str) -> str:
    """The opening comment's first sentence, however many comment lines it takes (up to a blank comment line or
    a command)."""
    words = []
    for line in recipe_text.splitlines():
        text = line.lstrip("#").strip()
        if not line.startswith("#") or not text or text.startswith("toolkit "):
            break
        words.append(text)
        if SENTENCE_END.search(text):
            break
    sentence = " ".join(words)
    end = SENTENCE_END.search(sentence)
    return sentence[:end.end()] if end else sentence


def chat_loop(args: argparse.Namespace) -> None:
    """A conversation: each message is answered with the turns before it (toolkit.generation.chat_turn) until
    /reset starts a new one. Once it outgrows the model's positions its oldest exchanges are left out, which is
    said once per conversation."""
    from toolkit.generation import MessageTooLong, chat_turn, load_for_generation

    model, tokenizer = load_for_generation(args.model_dir, args.trust_remote_code)
    if not tokenizer.chat_template:
        raise ToolkitError(f"{args.model_dir}: this model has no chat template; use `toolkit generate --no-chat`.")
    print("Type a message (/reset starts a new conversation; empty line or Ctrl-D to stop).", flush=True)
    history, told = [], False
    while True:
        try:
            prompt = input("you> ").strip()
        except EOFError:
            break
        if not prompt:
            break
        if prompt == "/reset":
            history, told = [], False
            print("(a new conversation)", flush=True)
            continue
        try:
            turn = chat_turn(model, tokenizer, history, prompt, args.max_new_tokens, args.temperature, args.top_p,
                             args.seed)
        except MessageTooLong as error:  # the conversation so far is still there: the user can go on
            print(f"error: {error}", file=sys.stderr, flush=True)
            continue
        if turn.dropped and not told:
            print("(the conversation no longer fits the model: its oldest turns are left out from here on)",
                  flush=True)
            told = True
        history = turn.history
        print(f"model> {turn.reply}", flush=True)


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """A library's warning as one line: Python's own format adds the source line that raised it, which reads
    as a stray `  warnings.warn(` under the message."""
    return f"warning: {message} ({category.__name__}, {Path(filename).name}:{lineno})\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = one_line_warning
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    accelerate = argv[argv.index("--") + 1:] if "--" in argv else []  # toolkit launch: accelerate's own options
    argv = argv[:argv.index("--")] if "--" in argv else argv
    # Overrides may come after flags (`train R --overwrite training.seed=1`), which argparse alone refuses.
    args, extra = parser.parse_known_args(argv)
    stray = [item for item in extra if "=" not in item or item.startswith("-")]
    if stray or (extra and args.command not in ("train", "check", "launch", "prepare-corpus", "tokenize")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = list(args.overrides) + extra
    args.accelerate = accelerate
    if args.verbose:
        os.environ["TOOLKIT_VERBOSE"] = "1"  # launched processes inherit it
    try:
        return run(args)
    except ToolkitError as error:
        if os.environ.get("RANK", "0") == "0" or args.debug:  # launched: every process fails alike; one says so
            if args.debug:
                traceback.print_exc()
            print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as stop:  # Ctrl-C: where things stand, and the command that goes on
        if args.debug:
            traceback.print_exc()
        if os.environ.get("RANK", "0") == "0" and args.command != "launch":  # launch: its processes say it
            print(interrupted_line(args, stop), file=sys.stderr)
        return 130  # the shell's status for a command ended by SIGINT
