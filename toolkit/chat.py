"""Chat formatting for models that have none (GPT-2): ChatML turns, a pad token, a trained end-of-turn token.

The template marks assistant content with {% generation %} so TRL's assistant_only_loss can build its mask,
and puts <|im_end|> inside that block so the model is trained to emit it, which is what makes generation
stop. Other data shapes (Alpaca triples, ShareGPT conversations) become chat messages here.
"""

from __future__ import annotations

from toolkit.errors import ToolkitError

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

CHATML_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def ensure_chat_template(tokenizer) -> bool:
    """Give a tokenizer without a chat template the ChatML one and its tokens. True if it changed."""
    if tokenizer.chat_template:
        return False
    missing = [token for token in (IM_START, IM_END) if token not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing})
    tokenizer.chat_template = CHATML_TEMPLATE
    return True


def apply_template(tokenizer, turns: list[dict], fix: str, **kwargs):
    """tokenizer.apply_chat_template, where a template that refuses the conversation (templates do, with
    raise_exception, e.g. for roles they do not take) or breaks is one line naming the tokenizer's folder."""
    from jinja2 import TemplateError

    try:
        return tokenizer.apply_chat_template(turns, **kwargs)
    except TemplateError as error:
        where = getattr(tokenizer, "name_or_path", None) or "the tokenizer"
        raise ToolkitError(f"{where}: its chat template refused the conversation ({error}). {fix}") from error


def end_of_turn_ids(tokenizer) -> list[int]:
    """Token ids at which generation stops: the end-of-turn token (if the vocabulary has it) and EOS."""
    ids = []
    vocab = tokenizer.get_vocab()
    if IM_END in vocab:
        ids.append(vocab[IM_END])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def alpaca_to_messages(instruction: str, input_text: str | None, output: str | None) -> list[dict]:
    """An instruction/input/output triple as a user turn (input appended after a blank line) and a reply."""
    user = instruction.strip() if not (input_text and input_text.strip()) else \
        f"{instruction.strip()}\n\n{input_text.strip()}"
    messages = [{"role": "user", "content": user}]
    if output is not None:
        messages.append({"role": "assistant", "content": output.strip()})
    return messages


# ShareGPT's speaker names ('from') and the chat role each stands for: FastChat's human/gpt (with the chatgpt,
# bing and bard of the ShareGPT dumps it cleans), LLaMA-Factory's human/gpt/system defaults, the role names
# Axolotl maps (user, assistant, model), and the chat roles themselves.
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "model": "assistant", "chatgpt": "assistant", "bing": "assistant", "bard": "assistant"}


def sharegpt_to_messages(turns, where: str) -> list[dict]:
    """A ShareGPT conversation (a list of {from, value} turns) as chat messages ({role, content}). `where` names
    the row, for the message refusing a turn that is not one (an unknown speaker, no text)."""
    if not isinstance(turns, list) or not all(isinstance(turn, dict) for turn in turns):
        raise ToolkitError(f"{where}: a ShareGPT conversation must be a list of {{from, value}} turns.")
    messages = []
    for turn in turns:
        speaker = turn.get("from")
        role = SHAREGPT_ROLES.get(speaker.strip().lower()) if isinstance(speaker, str) else None
        if role is None:
            raise ToolkitError(f"{where}: ShareGPT speaker {speaker!r} is not one this reads; 'from' may be "
                               f"{', '.join(SHAREGPT_ROLES)}.")
        if not isinstance(turn.get("value"), str):
            raise ToolkitError(f"{where}: the {speaker!r} turn has no text ('value').")
        messages.append({"role": role, "content": turn["value"]})
    return messages
