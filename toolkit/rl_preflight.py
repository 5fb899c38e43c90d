"""The reward preflight: before online RL trains, the starting policy samples `num_generations` completions for a
few dozen training prompts, as training will sample them, and every reward scores them. GRPO and RLOO learn only
from groups whose completions score differently (an advantage is a completion's reward against its group's), so
the share of groups with no spread says, before any step, how much of the run can teach the policy anything.

Two shares are judged: groups with no spread in the weighted total (what the advantages come from: such a group
gives no gradient at all), and groups with no spread in the reward of the largest weight (the goal). GRPO divides
each group's advantages by its spread, so a group whose total varies only through a small shaping reward (a format
bonus at weight 0.1) pushes as hard as one that varies in the goal, and teaches only the shaping. A run is refused
only for the total (a certain waste), and warned of for either (a likely one).

Thresholds (toolkit.recipe.PreflightSpec), measured with 32 prompts (benchmarks/RESULTS.md, "Reward preflight"):
- the reversal pair as shipped, whose GRPO raises held-out exact match by 0.40-0.53 on seeds 42, 7 and 1: no
  spread in 22-38% of groups (28-53% with 64 prompts: the share moves by about 0.08 between samples of 32);
  training logged frac_reward_zero_std 0.28-0.29 on average. Passes: at half the groups without spread, the
  other half still taught it.
- the arithmetic pair as shipped, whose GRPO leaves held-out answers where they were: 50-75% (45-72% with 64),
  mostly groups the start already answers right every time. Warned of above WARN (0.6) on seeds 42 and 1; on
  seed 7 (50%) it passes, and its flatness is not a spread problem: GRPO learns its own prompts and they do not
  carry over to unseen sums, which no preflight of the start can see.
- the arithmetic pair as it shipped before (sums to 12): 83% in training, and nothing learned; the reversal pair
  from a start that reverses nothing (GPT-2 on 200 sequences, as it shipped before): 100%. Refused above
  REFUSE (0.8): those groups give no gradient at all. Between the two thresholds a run is only warned of.
- with the policy held still (learning rate 1e-12, one epoch), TRL logged 0.41 and 0.43 where the preflight said
  0.35 and 0.41: it samples as training does.

The preflight must not change the run: it samples from its own seed and puts every random state back (torch CPU
and CUDA, python's random, numpy), so a run's losses and rewards are the same with it and without it. In a
multi-process run the main process samples and the others receive its figures, so every rank decides alike. Its
cost, measured on the reversal GRPO recipe: 0.9 s of an 80 s run (1.5 s of 107 s on a busier machine), 1-1.5%.
"""

from __future__ import annotations

import contextlib
import random
import time

from toolkit.errors import ToolkitError

NO_SPREAD = 1e-8  # TRL counts a group as zero-std with torch.isclose(std, 0): an absolute 1e-8


@contextlib.contextmanager
def kept_random_state():
    """Every random stream a run draws from, as it was before the block, whatever happens in it."""
    import numpy
    import torch

    python, generator, cpu = random.getstate(), numpy.random.get_state(), torch.random.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        random.setstate(python)
        numpy.random.set_state(generator)
        torch.random.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def chosen_rows(count: int, wanted: int, seed: int) -> list[int]:
    """`wanted` row indices of `count` (all when fewer), drawn with the run's seed from a private generator."""
    if count <= wanted:
        return list(range(count))
    return sorted(random.Random(seed).sample(range(count), wanted))


def generation_config(model, tokenizer, args):
    """The sampling settings TRL's GRPO and RLOO trainers generate with (their generation_kwargs), from the config."""
    from transformers import GenerationConfig

    kwargs = {"max_new_tokens": args.max_completion_length, "do_sample": True, "pad_token_id": tokenizer.pad_token_id,
              "bos_token_id": tokenizer.bos_token_id, "eos_token_id": end_ids(model, tokenizer),
              "temperature": args.temperature, "top_p": args.top_p, "top_k": getattr(args, "top_k", None),
              "min_p": getattr(args, "min_p", None), "repetition_penalty": getattr(args, "repetition_penalty", 1.0),
              "cache_implementation": getattr(args, "cache_implementation", None)}
    kwargs.update(getattr(args, "generation_kwargs", None) or {})
    return GenerationConfig(**kwargs, disable_compile=True)


def end_ids(model, tokenizer) -> list[int]:
    """Every end-of-sequence id the model declares, and the tokenizer's: where TRL ends a completion."""
    ids = model.generation_config.eos_token_id
    ids = [] if ids is None else [ids] if isinstance(ids, int) else list(ids)
    return ids if tokenizer.eos_token_id in ids else [tokenizer.eos_token_id, *ids]


def prompt_ids(tokenizer, prompts: list, chat_template_kwargs: dict | None = None) -> list[list[int]]:
    """Each prompt's token ids as TRL's RL trainers build them: a conversation through the chat template, ending
    where the reply starts; a string as it is."""
    if isinstance(prompts[0], str):
        return tokenizer(text=prompts)["input_ids"]
    return tokenizer.apply_chat_template(prompts, add_generation_prompt=True, tokenize=True, return_dict=True,
                                         **(chat_template_kwargs or {}))["input_ids"]


def sampled(model, tokenizer, args, prompts: list) -> list[list[int]]:
    """num_generations completions (token ids, through the first end token) of each prompt, in order: the prompts
    formatted as TRL formats them (a conversation through the chat template, ending where the reply starts; a
    string as it is), left-padded, and sampled with the run's settings from the run's seed."""
    import torch

    repeated = [prompt for prompt in prompts for _ in range(args.num_generations)]
    ids = prompt_ids(tokenizer, repeated, args.chat_template_kwargs)
    config = generation_config(model, tokenizer, args)
    stops = set(config.eos_token_id)
    chunk = max(1, args.per_device_train_batch_size * (getattr(args, "steps_per_generation", None) or 1))
    torch.manual_seed(args.seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(args.seed)
    completions = []
    for start in range(0, len(ids), chunk):
        rows = ids[start:start + chunk]
        width = max(len(row) for row in rows)
        input_ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(row)) + row for row in rows])
        mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
        with torch.no_grad():
            output = model.generate(input_ids=input_ids.to(model.device), attention_mask=mask.to(model.device),
                                    generation_config=config)
        for row in output[:, width:].tolist():
            end = next((i for i, token in enumerate(row) if token in stops), None)
            completions.append(row[:end + 1] if end is not None else row)
    return completions


def scores_of(rewards, prompts: list, completions: list, ids: list, columns: dict) -> dict[str, list]:
    """{reward name: one score per completion}, each reward called as TRL calls it."""
    scored = {}
    for reward in rewards:
        try:
            scores = reward.function(prompts=prompts, completions=completions, completion_ids=ids, **columns)
        except Exception as error:
            raise ToolkitError(f"reward preflight: reward '{reward.name}' failed on the sampled completions: "
                               f"{type(error).__name__}: {error}. Fix it, or set rl.preflight: off to train "
                               f"without the preflight.") from error
        scored[reward.name] = [float("nan") if score is None else float(score) for score in scores]
    return scored


def no_spread_share(scores: list[float], size: int) -> float:
    """The share of consecutive groups of `size` whose scores are all equal (a None, NaN here, counts as 0, as
    in TRL's weighted sum)."""
    groups = [[0.0 if score != score else score for score in scores[i:i + size]] for i in range(0, len(scores), size)]
    return sum(max(group) - min(group) <= NO_SPREAD for group in groups) / len(groups)


def figures(prepared) -> dict:
    """Sample, score and sum up: the preflight's numbers (what metrics.json keeps as reward_preflight)."""
    from accelerate import PartialState

    from toolkit.recipe import preflight_settings

    started = time.time()
    args, settings = prepared.args, preflight_settings(prepared.recipe.rl)
    train = prepared.splits["train"]
    rows = train.select(chosen_rows(len(train), settings.prompts, args.seed)).to_dict()
    model, tokenizer = prepared.model, prepared.tokenizer
    was_training, device = model.training, model.device
    with kept_random_state():  # sampling and the rewards (a user's may draw too)
        model.to(PartialState().device).eval()
        try:
            ids = sampled(model, tokenizer, args, rows["prompt"])
        finally:
            model.to(device).train(was_training)
        return summed(prepared, rows, ids, started)


def summed(prepared, rows: dict, ids: list[list[int]], started: float) -> dict:
    """Each reward's mean, no-spread and unparsed shares, and the total's, of the sampled completions."""
    from toolkit.rewards import text_of

    args, tokenizer = prepared.args, prepared.tokenizer
    size = args.num_generations
    texts = tokenizer.batch_decode(ids, skip_special_tokens=True)
    chat = not isinstance(rows["prompt"][0], str)
    completions = [[{"role": "assistant", "content": text}] for text in texts] if chat else texts

    def repeat(values: list) -> list:
        return [value for value in values for _ in range(size)]

    columns = {key: repeat(values) for key, values in rows.items() if key != "prompt"}
    scored = scores_of(prepared.rewards, repeat(rows["prompt"]), completions, ids, columns)
    weights = args.reward_weights or [reward.weight for reward in prepared.rewards]
    total = [sum(weight * (0.0 if value != value else value) for weight, value in zip(weights, values, strict=True))
             for values in zip(*scored.values(), strict=True)]
    per_reward = {}
    for reward in prepared.rewards:
        values = [0.0 if value != value else value for value in scored[reward.name]]
        parse = getattr(reward.function, "parse", None)
        unparsed = (sum(parse(text_of(completion)) is None for completion in completions) / len(completions)
                    if callable(parse) else None)
        per_reward[reward.name] = {"mean": round(sum(values) / len(values), 4),
                                   "no_spread": round(no_spread_share(scored[reward.name], size), 4),
                                   **({"unparsed": round(unparsed, 4)} if unparsed is not None else {})}
    goal = prepared.rewards[max(range(len(weights)), key=lambda i: abs(weights[i]))].name
    total_share = round(no_spread_share(total, size), 4)
    return {"prompts": len(rows["prompt"]), "generations": size, "seconds": round(time.time() - started, 2),
            "rewards": per_reward, "total_no_spread": total_share, "goal": goal,
            "no_spread": max(total_share, per_reward[goal]["no_spread"])}


def shared(compute):
    """compute() on the main process, its result (or its error) given to every process: one decision for all."""
    from accelerate import PartialState

    state = PartialState()
    if state.num_processes == 1:
        return compute()
    from accelerate.utils import broadcast_object_list

    box = [None]
    if state.is_main_process:
        try:
            box = [("ok", compute())]
        except ToolkitError as error:
            box = [("error", str(error))]
    broadcast_object_list(box)
    if box[0][0] == "error":
        raise ToolkitError(box[0][1])
    return box[0][1]


def verdict(numbers: dict, settings) -> str:
    """refuse when the total has no spread in more than refuse_above of the groups (their advantages are 0: no
    gradient at all); warn when it, or the goal, has none in more than warn_above; else pass."""
    if settings.refuse_above is not None and numbers["total_no_spread"] > settings.refuse_above:
        return "refuse"
    return "warn" if numbers["no_spread"] > settings.warn_above else "pass"


def percent(share: float) -> str:
    return f"{100 * share:.0f}%"


def figures_line(numbers: dict) -> str:
    parts = [f"{name} mean {values['mean']:.2f}, no spread in {percent(values['no_spread'])} of groups"
             + (f", unparsed {percent(values['unparsed'])}" if "unparsed" in values else "")
             for name, values in numbers["rewards"].items()]
    return (f"reward preflight ({numbers['prompts']} prompts x {numbers['generations']} samples, "
            f"{numbers['seconds']:.1f} s): {'; '.join(parts)}; total: no spread in "
            f"{percent(numbers['total_no_spread'])} of groups")


def advice(numbers: dict, settings, refused: bool) -> str:
    """What the numbers mean for the run and what to change, naming a checker that reads no answer or scores
    nothing."""
    share, goal = numbers["total_no_spread" if refused else "no_spread"], numbers["goal"]
    which = ("give every completion the same reward, so they teach nothing" if share == numbers["total_no_spread"]
             else f"give every completion the same '{goal}' (the largest weight), so they teach nothing of it; the "
                  f"total's spread there comes from the other rewards and teaches only them")
    causes = [f"'{name}' reads no answer in {percent(values['unparsed'])} of the replies (check the reply format "
              f"it expects)" for name, values in numbers["rewards"].items() if values.get("unparsed", 0) >= 0.5]
    causes += [f"'{name}' gave every sampled reply {values['mean']:g}" for name, values in numbers["rewards"].items()
               if values["no_spread"] == 1 and values["mean"] == 0]
    fixes = ("a longer SFT stage (so the start gets some answers right), a denser reward (partial credit), or a "
             "higher training.temperature")
    line = (f"RL is unlikely to learn: {percent(share)} of groups {which}"
            f"{'; ' + '; '.join(causes) if causes else ''}. Try {fixes}")
    if refused:
        return (f"{line}. Refused above {percent(settings.refuse_above)} (rl.preflight.refuse_above); set "
                f"rl.preflight: warn to train anyway.")
    return f"warning: {line}."


def preflight(prepared) -> dict | None:
    """The preflight of an rlhf run, as the recipe sets it (rl.preflight): its lines said, its figures returned
    (None when off). Raises ToolkitError when the run is refused."""
    from toolkit.progress import say
    from toolkit.recipe import preflight_settings

    settings = preflight_settings(prepared.recipe.rl)
    if settings is None:
        return None
    numbers = shared(lambda: figures(prepared))
    numbers["verdict"] = verdict(numbers, settings)
    if numbers["verdict"] == "refuse":
        raise ToolkitError(f"{prepared.recipe.source}: {figures_line(numbers)}. {advice(numbers, settings, True)}")
    say(figures_line(numbers) + (" -> RL can learn from it" if numbers["verdict"] == "pass" else ""))
    if numbers["verdict"] == "warn":
        say(advice(numbers, settings, False))
    return numbers
