"""The built-in maths checkers against a labelled conformance set, and the gold check before training.

tests/data/checker_cases.jsonl: {"id", "class", "reply", "gold", "expected"}; `expected` is what a careful grader
says, 1 when the reply states the gold as its single final answer, else 0, whatever any checker does. The
worked solutions among the golds (class gold_solution, and a few replies) are GSM8K train rows as published
(github.com/openai/grade-school-math, MIT licence). A false credit (1 where the grader says 0) is the worse
error in RL: the policy learns to write whatever earns it. So `gsm8k` and `boxed` give none on the whole set,
and their misses are pinned below with the reason; `exact_match`'s known errors are pinned as its behaviour.
"""

from __future__ import annotations

import json
import threading

import pytest
from datasets import Dataset, DatasetDict

from conftest import ROOT, TINY_GPT2
from toolkit.errors import ToolkitError
from toolkit.math_verify_check import MathVerify, installed
from toolkit.rewards import BUILT_IN, boxed, check_golds, exact_match, gsm8k

CASES = [json.loads(line) for line in (ROOT / "tests/data/checker_cases.jsonl").read_text(encoding="utf-8").splitlines()]

# Each checker's scope, as the classes it is meant to credit (its misses there are pinned); false credit is
# checked on every case whose gold it reads.
SCOPE = {
    "gsm8k": {c["class"] for c in CASES} - {"boxed_text"},  # numeric answers; a non-numeric gold is refused
    "boxed": {"boxed_number", "boxed_text"},  # replies that box their answer
}

GSM8K_MISSES = {
    "boxed_number-18": "an intermediate value boxed before the final one: two boxed values read as no choice",
    "boxed_number-22": r"a mixed number, 3\frac{1}{2}",
    "plain-08": "no marker, and the last sentence ('Great job!') holds no number",
    "plain-09": "no marker and no concluding word: a restated question reads the same",
    "plain-11": "no marker and no concluding word",
    "plain-14": "no marker and no concluding word",
    "plain-15": "no marker and no concluding word",
    "plain-16": "no marker; the last sentence ('That took 3 steps.') is not a conclusion",
    "negation-11": "'not 18 but 20': a negation in the only sentence",
    "retraction-01": "an answer taken back and corrected: nothing is credited after a retraction",
    "retraction-04": "an answer taken back and corrected",
    "retraction-08": "an answer taken back and corrected",
}
BOXED_MISSES = {
    "boxed_number-18": "an intermediate value boxed before the final one",
    "boxed_number-22": r"a mixed number, 3\frac{1}{2}",
    "boxed_text-03": r"\sqrt{8} = 2\sqrt{2}: equal values, different text (math_verify's job)",
    "boxed_text-10": "1 + x^2 = x^2 + 1: equal expressions, different text",
}
# exact_match reads the reply's last number and compares it with float(gold): its known errors.
EXACT_MATCH_FALSE_CREDITS = {
    "wrong-08", "wrong-09", "hedge-01", "hedge-02", "hedge-03", "hedge-04", "hedge-05", "hedge-07", "hedge-08",
    "hedge-09", "hedge-10", "hedge-11", "hedge-12", "hedge-13", "hedge-14", "hedge-15", "hedge-17", "hedge-18",
    "hedge-21", "list-01", "list-02", "list-03", "list-04", "list-05", "list-06", "list-07", "list-08", "list-10",
    "list-11", "negation-01", "negation-02", "negation-03", "negation-04", "negation-05", "negation-06",
    "negation-07", "negation-08", "negation-09", "negation-12", "negation-13", "no_answer-08", "no_answer-09"}
EXACT_MATCH_MISSES = {"hash-03", "hash-16", "boxed_number-03", "boxed_number-04", "answer_is-11", "answer_is-12",
                      "answer_is-16", "answer_is-19", "plain-16"}


def score(function, case) -> float | None:
    """The checker's score for one case, or None when its gold reader refuses the gold (as before training)."""
    try:
        function.gold(case["gold"])
    except ValueError:
        return None
    return function(prompts=["?"], completions=[case["reply"]], answer=[case["gold"]])[0]


def errors(function) -> tuple[set, set, set]:
    """(false credits, misses, refused golds) over the set, as case ids."""
    scores = {case["id"]: (score(function, case), case["expected"]) for case in CASES}
    return ({i for i, (s, e) in scores.items() if s == 1.0 and e == 0},
            {i for i, (s, e) in scores.items() if s == 0.0 and e == 1},
            {i for i, (s, _) in scores.items() if s is None})


def test_the_conformance_set_is_well_formed():
    assert len(CASES) >= 150 and len({c["id"] for c in CASES}) == len(CASES)
    assert all(set(c) == {"id", "class", "reply", "gold", "expected"} and c["expected"] in (0, 1) for c in CASES)
    assert sum(c["expected"] == 0 for c in CASES) >= 60  # wrong answers, hedges, lists, negations


@pytest.mark.parametrize("name,function,misses", [("gsm8k", gsm8k, GSM8K_MISSES), ("boxed", boxed, BOXED_MISSES)])
def test_checker_gives_no_false_credit_and_only_the_pinned_misses(name, function, misses):
    false_credits, missed, refused = errors(function)
    assert not false_credits, f"{name} credits replies a grader would not: {sorted(false_credits)}"
    in_scope = {c["id"] for c in CASES if c["class"] in SCOPE[name]}
    assert missed & in_scope == set(misses), sorted(missed & in_scope)
    assert not refused & in_scope


def test_gsm8k_refuses_exactly_the_non_numeric_golds():
    assert errors(gsm8k)[2] == {c["id"] for c in CASES if c["class"] == "boxed_text"}


def test_exact_match_errors_are_its_documented_behaviour():
    false_credits, missed, refused = errors(exact_match)
    assert false_credits == EXACT_MATCH_FALSE_CREDITS, sorted(false_credits ^ EXACT_MATCH_FALSE_CREDITS)
    assert missed == EXACT_MATCH_MISSES, sorted(missed ^ EXACT_MATCH_MISSES)
    assert {c["id"] for c in CASES if c["class"] == "gold_solution"} <= refused  # "could not convert string"


@pytest.mark.parametrize("name", ["exact_match", "exact_text", "gsm8k", "boxed", "math_verify"])
def test_every_checker_says_what_it_reads(name):
    function = BUILT_IN[name]
    assert callable(getattr(function, "parse", None)) and callable(getattr(function, "gold", None))
    if name != "math_verify":  # its reader runs in worker processes: see test_math_verify_*
        assert function.parse("I do not know." if name != "exact_text" else " \n") is None
    with pytest.raises(ValueError):
        function.gold(None)


def test_readers_on_the_forms_the_checkers_were_measured_to_miss():
    assert gsm8k.parse("#### 72\nThat took 3 steps.") == "72"
    assert gsm8k.parse(r"\boxed{72}, about 2 dozen more") == "72"
    assert gsm8k.gold("Natalia sold 48/2 = <<48/2=24>>24 clips.\n#### 27,200") == 27200
    for hedge in ("I am not sure: 16, 17 or 18", "Not 18.", "1,5", "3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18"):
        assert gsm8k.parse(hedge) is None, hedge
    assert gsm8k.parse("The answer is 20, not 18") == "20"
    assert boxed.parse(r"So \boxed{\frac{1}{\sqrt{2}}}.") == r"\frac{1}{\sqrt{2}}"  # nested braces
    assert boxed.gold("0.5") == boxed.gold(r"\dfrac{1}{2}")


def splits(*answers) -> DatasetDict:
    rows = [{"prompt": f"question {i}", "answer": answer} for i, answer in enumerate(answers)]
    return DatasetDict({"train": Dataset.from_list(rows[:1]), "test": Dataset.from_list(rows[1:])})


def test_an_unreadable_gold_is_refused_with_its_split_row_and_value():
    gsm8k_solution = "She sold 48 + 24 = <<48+24=72>>72 clips.\n#### 72"
    with pytest.raises(ToolkitError) as refused:
        check_golds(exact_match, "exact_match", splits("4", "5", "6", gsm8k_solution), "r.yaml: rl.rewards")
    message = str(refused.value)
    assert "split 'test', row 3" in message and "#### 72" in message and "function: gsm8k" in message, message
    with pytest.raises(ToolkitError, match="row 2.*27,200"):
        check_golds(exact_match, "exact_match", splits("1", "2", "27,200"), "r.yaml")
    check_golds(gsm8k, "gsm8k", splits("1", "27,200", gsm8k_solution), "r.yaml")
    with pytest.raises(ToolkitError, match="split 'train', row 1.*boxed"):
        check_golds(gsm8k, "gsm8k", splits(r"2\sqrt{2}", "1"), "r.yaml")
    check_golds(lambda prompts, completions, **_: [0.0], "my:reward", splits("anything", "goes"), "r.yaml")


def rl_recipe(tmp_path, reward: str, answers: list) -> dict:
    rows = [{"prompt": f"What is {i} + {i}?", "answer": answer} for i, answer in enumerate(answers)]
    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return {"task": "rlhf", "model": {**TINY_GPT2, "tokenizer": {"vocab_size": 300}},
            "data": {"train": str(data), "split": {"validation": 0.0, "test": 0.0}},
            # an untrained policy answers nothing: the reward preflight would refuse the run, so it only warns
            "rl": {"algorithm": "grpo", "rewards": [{"function": reward}], "preflight": "warn"},
            "training": {"output_dir": str(tmp_path / "run"), "max_steps": 1, "per_device_train_batch_size": 4,
                         "num_generations": 4, "max_completion_length": 4, "disable_tqdm": True, "seed": 0}}


def test_training_refuses_gsm8k_solutions_for_exact_match_and_runs_them_with_gsm8k(tmp_path, capsys):
    import yaml

    import toolkit
    from toolkit.cli import main

    answers = [f"{i} + {i} = <<{i}+{i}={2 * i}>>{2 * i}\n#### {2 * i:,}" for i in range(598, 606)]  # 1,196 ...
    path = tmp_path / "rl.yaml"
    path.write_text(yaml.safe_dump(rl_recipe(tmp_path, "exact_match", answers)))
    assert main(["train", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cannot read the answer of split 'train', row" in err and "function: gsm8k" in err, err
    assert not (tmp_path / "run").exists()
    result = toolkit.train(rl_recipe(tmp_path, "gsm8k", answers))
    assert result.metrics["train_reward_first"] is not None


def test_exact_match_is_unchanged():
    replies = ["The answer is 4.", "2 + 2 = 4.0", "I do not know.", "1,000 apples", "-3"]
    assert exact_match(None, replies, ["4", 4, "4", "1000", -3]) == [1.0, 1.0, 0.0, 1.0, 1.0]
    with pytest.raises(ValueError):
        exact_match(None, ["4"], ["#### 4"])


def test_checkers_score_chat_completions_from_a_thread():
    out = []
    chat = [[{"role": "assistant", "content": "#### 1,080"}], [{"role": "assistant", "content": "Not 1080."}]]
    thread = threading.Thread(target=lambda: out.append(gsm8k(None, chat, ["1080", "1080"])))
    thread.start()
    thread.join()
    assert out == [[1.0, 0.0]]


# math-verify (0.9.0) as published: it reads the last answer-like value, so hedges, lists and negations ending in
# the gold earn credit; pinned here so a change of version or of the call shows.
MATH_VERIFY_FALSE_CREDITS = {
    "wrong-08", "wrong-09", "hedge-01", "hedge-03", "hedge-04", "hedge-05", "hedge-08", "hedge-11", "hedge-12",
    "hedge-13", "hedge-14", "hedge-15", "hedge-16", "hedge-17", "list-01", "list-03", "list-05", "list-08",
    "negation-01", "negation-03", "negation-04", "negation-05", "negation-06", "negation-07", "negation-12",
    "negation-13", "retraction-03", "retraction-05", "retraction-06", "retraction-07", "no_answer-08", "no_answer-09"}
MATH_VERIFY_MISSES = {"hash-03", "hash-11", "hash-16", "hash-22", "plain-16", "retraction-04", "retraction-08"}
needs_math_verify = pytest.mark.skipif(not installed(), reason="math-verify is not installed: pip install -e \".[math]\"")


@needs_math_verify
def test_math_verify_on_the_set_from_a_worker_thread():
    """Called from a thread, as a trainer may: math-verify's signal-based timeouts would raise there; the pool
    runs them in worker processes' main threads."""
    checker, out = MathVerify(), []
    thread = threading.Thread(target=lambda: out.append(
        checker(None, [c["reply"] for c in CASES], [c["gold"] for c in CASES])))
    thread.start()
    thread.join()
    checker.close()
    scores = dict(zip([c["id"] for c in CASES], out[0], strict=True))
    assert checker.failures == 0
    false_credits = {c["id"] for c in CASES if scores[c["id"]] == 1.0 and c["expected"] == 0}
    missed = {c["id"] for c in CASES if scores[c["id"]] == 0.0 and c["expected"] == 1}
    assert false_credits == MATH_VERIFY_FALSE_CREDITS, sorted(false_credits ^ MATH_VERIFY_FALSE_CREDITS)
    assert missed == MATH_VERIFY_MISSES, sorted(missed ^ MATH_VERIFY_MISSES)
    assert len(CASES) - len(false_credits) - len(missed) == 164  # cases where it agrees with the grader


@needs_math_verify
def test_math_verify_counts_and_says_a_timeout():
    checker = MathVerify(timeout=1)
    with pytest.warns(RuntimeWarning, match=r"math_verify: 1 of 2 replies scored 0 .*Timeout.*1 so far"):
        scores = checker(None, [r"\boxed{9^{9^{9^{9}}}}", r"\boxed{1}"], ["1", "1"])  # sympy's tower: no end
    assert scores == [0.0, 1.0] and checker.failures == 1
    assert checker.parse(r"so \boxed{\frac{1}{2}}") == r"\frac{1}{2}" and checker.parse("no idea") is None
    checker.close()


@needs_math_verify
def test_a_stuck_math_verify_worker_is_given_up_and_replaced():
    """A call that math-verify's own alarm cannot stop (C code holds the interpreter) is waited for at most
    timeout + 2 s; the pool is then replaced, so later calls are not queued behind it."""
    import time

    checker = MathVerify(timeout=1, workers=1)
    results = checker.run(time.sleep, [(30,)])
    assert results[0][0] is False and "no result within 3 s" in results[0][1] and checker.pool is None
    assert checker(None, ["#### 4"], ["4"]) == [1.0]
    checker.close()


def test_math_verify_in_a_recipe_needs_the_package(monkeypatch):
    import toolkit.rewards

    monkeypatch.setattr(toolkit.rewards, "installed", lambda: False)
    with pytest.raises(ToolkitError, match=r"math-verify.*pip install -e \"\.\[math\]\""):
        toolkit.rewards.load_function("math_verify", "r.yaml: rl.rewards[1]")


def test_a_gold_with_a_typo_is_refused_not_read_as_a_number():
    """"1O" (a letter O for a zero) must not become the gold 1; a reply may still say "10 dollars"."""
    from toolkit.checkers import gold_number

    with pytest.raises(ValueError, match="letters"):
        gold_number("1O")
    assert gold_number("#### 1,080") == 1080 and gold_number("\\frac{1}{2}") * 2 == 1
    assert gsm8k(None, ["The answer is 10 dollars."], ["10"]) == [1.0]
