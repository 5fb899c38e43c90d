"""EleutherAI's evaluation harness (lm-eval) on a finished run's model, when it is installed.

The harness's own tasks download their datasets from the hub at run time; a task defined in a YAML file over a
local file (`dataset_path: json`, `dataset_kwargs: {data_files: ...}`) runs offline, from the folder given as
`include`. Every scored sample is saved beside the run (harness/<task>.jsonl), so its metric can be recounted.
"""

from __future__ import annotations

import json
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.loading import refuse_custom_code
from toolkit.run_folder import require_model_folder


def run_harness(run_dir: str | Path, tasks: list[str], include: str | Path | None = None,
                limit: int | None = None, batch_size: int = 8, trust_remote_code: bool = False) -> dict:
    """{task: metrics} from lm-eval's `simple_evaluate` on the run's saved model; samples in run_dir/harness/.
    trust_remote_code: let the folder run its own code (auto_map); off, such a folder is refused."""
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError as error:
        raise ToolkitError("toolkit eval --harness runs EleutherAI's lm-eval, which is not installed: "
                           "pip install 'lm-eval[hf]'.") from error
    import torch

    folder = Path(run_dir)
    if include is not None and not Path(include).is_dir():
        raise ToolkitError(f"--harness-include: '{include}' is not a folder of task YAML files.")
    manager = TaskManager(include_path=str(include)) if include else TaskManager()
    unknown = [task for task in tasks if task not in manager.all_tasks]
    if unknown:
        raise ToolkitError(f"--harness: no lm-eval task '{unknown[0]}'. Name one of lm-eval's tasks, or define it in "
                           f"a YAML file in the folder given as --harness-include.")
    require_model_folder(folder, "causal LM", "a pretrain, sft, dpo, kto, orpo or rlhf run")
    refuse_custom_code(folder, trust_remote_code, str(folder))
    output = lm_eval.simple_evaluate(model="hf", model_args={"pretrained": str(folder), "dtype": "float32",
                                                             "trust_remote_code": trust_remote_code},
                                     tasks=list(tasks), task_manager=manager, limit=limit, batch_size=batch_size,
                                     device="cuda" if torch.cuda.is_available() else "cpu", log_samples=True,
                                     bootstrap_iters=0)
    saved = folder / "harness"
    saved.mkdir(exist_ok=True)
    for task, samples in (output.get("samples") or {}).items():
        with (saved / f"{task}.jsonl").open("w", encoding="utf-8") as handle:
            for sample in samples:
                handle.write(json.dumps(sample, default=str, ensure_ascii=False) + "\n")
    return {task: {key: value for key, value in metrics.items() if key != "alias"}
            for task, metrics in output["results"].items()}
