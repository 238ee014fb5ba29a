"""Error-vs-N figure of the Poseidon miniature (docs/scot.md): one log–log panel per downstream
task, the test error of the fine-tuned scOT, scOT from scratch and FNO from scratch against the
number N of training trajectories.

Reads the ``summary_<task>.json`` files that ``poseidon_miniature.py`` writes (every run's errors,
per seed); draws the mean over the seeds (lines) and each seed (small dots). Nothing is trained
or evaluated here.

    python examples/scot/plot_error_vs_n.py runs/scot/summary_shear.json \\
        runs/scot/summary_tracer.json --out docs/figures/scot_error_vs_n.png

``--overlay`` adds the scOT curves (fine-tuned, scratch; dashed, open markers) of another scOT size
(the summary of ``poseidon_miniature.py --model-preset P``) to the panel of the same task; its FNO
runs are the same model as the main summary's and are not drawn again:

    python examples/scot/plot_error_vs_n.py docs/figures/scot_summary_shear.json \\
        docs/figures/scot_summary_tracer.json --overlay docs/figures/scot_mini_summary_shear.json \\
        --out docs/figures/scot_error_vs_n.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import NullLocator, ScalarFormatter  # noqa: E402

STYLE = {
    "finetune": ("scOT fine-tuned", "C0", "o"),
    "scratch": ("scOT scratch", "C1", "s"),
    "fno": ("FNO scratch", "C2", "^"),
}
TITLES = {
    "shear": "shear layer (u, v)",
    "tracer": "NS + passive tracer (u, v, c)",
    "forced": "Kolmogorov-forced NS (u, v; forcing in)",
}
LABELS = {
    "direct_l1": "median rel. L1 (%) at t = 1, direct jump",
    "auto_l1": "median rel. L1 (%) at t = 1, autoregressive",
}


def draw_panel(ax: plt.Axes, summary: dict, key: str) -> None:
    """Draw one task's error-vs-N curves (``key`` of every run: ``direct_l1`` or ``auto_l1``, %)
    on ``ax``, log–log."""
    ns = summary["ns"]
    for model, (label, color, marker) in STYLE.items():
        runs = [r for r in summary["runs"] if r["model"] == model]
        means = [np.mean([r[key] for r in runs if r["n"] == n]) for n in ns]
        ax.loglog(ns, means, marker=marker, color=color, label=label)
        ax.scatter([r["n"] for r in runs], [r[key] for r in runs], s=8, color=color, alpha=0.5)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())  # 30, 40, ...: the errors span < one decade
    ax.set_xlabel("training trajectories N")
    seeds = ", ".join(map(str, summary["seeds"]))
    label = "seeds" if len(summary["seeds"]) > 1 else "seed"
    ax.set_title(f"{TITLES.get(summary['task'], summary['task'])}\n{label} {seeds}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)


def draw_overlay(ax: plt.Axes, summary: dict, key: str, base: str) -> None:
    """Draw the scOT curves of another model size (``summary["model_preset"]``) on ``ax``:
    dashed lines through open markers for the seed means, small open dots for the seeds; the
    panel's own scOT curves are relabelled with their model ``base``. ``ax`` is already log–log
    (``plot`` keeps its ticks)."""
    ns, name = summary["ns"], summary.get("model_preset", "other scOT")
    for line in ax.get_lines():
        if line.get_label().startswith("scOT "):
            line.set_label(line.get_label().replace("scOT", base, 1))
    for model in ("finetune", "scratch"):
        label, color, marker = STYLE[model]
        runs = [r for r in summary["runs"] if r["model"] == model]
        means = [np.mean([r[key] for r in runs if r["n"] == n]) for n in ns]
        ax.plot(ns, means, marker=marker, color=color, linestyle="--", markerfacecolor="none",
                  label=label.replace("scOT", name))  # fmt: skip
        ax.scatter([r["n"] for r in runs], [r[key] for r in runs], s=8, facecolors="none",
                   edgecolors=color, alpha=0.5)  # fmt: skip
    seeds = ", ".join(map(str, summary["seeds"]))
    ax.set_title(f"{ax.get_title()}; dashed: {name}, seed(s) {seeds}", fontsize=9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("summaries", type=Path, nargs="+", help="summary_<task>.json files")
    parser.add_argument("--out", type=Path, default=Path("docs/figures/scot_error_vs_n.png"))
    parser.add_argument("--key", choices=sorted(LABELS), default="direct_l1")
    parser.add_argument(
        "--overlay",
        type=Path,
        nargs="+",
        default=[],
        help="summaries of another scOT size (--model-preset), drawn dashed on their task's panel",
    )
    args = parser.parse_args()
    summaries = [json.loads(p.read_text()) for p in args.summaries]
    fig, axes = plt.subplots(1, len(summaries), figsize=(4.2 * len(summaries), 3.6), squeeze=False)
    for ax, summary in zip(axes[0], summaries):
        draw_panel(ax, summary, args.key)
    for path in args.overlay:
        overlay = json.loads(path.read_text())
        panels = [ax for ax, s in zip(axes[0], summaries) if s["task"] == overlay["task"]]
        if not panels:
            parser.error(f"--overlay {path}: no panel for its task {overlay['task']!r}")
        main = summaries[[s["task"] for s in summaries].index(overlay["task"])]
        # summaries written before --model-preset existed have no key: the specs' scot-micro
        base = main.get("model_preset", "specs (scot-micro)")
        draw_overlay(panels[0], overlay, args.key, "scot-micro" if "scot-micro" in base else base)
    axes[0, 0].set_ylabel(LABELS[args.key])
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
