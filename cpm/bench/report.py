"""The benchmark's one printed table and its JSON file."""
from __future__ import annotations

import json
import math
from pathlib import Path


def _status(met) -> str:
    return "" if met is None else ("met" if met else "MISSED")


# issue 14: scripts/pretrain.py / lineage-style reference, fp32 on CPU
TRAINER_TARGETS = {64: 1.3, 16: 1.2}


def trainer_rows(t: dict) -> list[tuple[str, str, str, str, str]]:
    """Section 0: pretrain.py's steady-state samples/s per batch, and its ratio to the reference by round."""
    out, first = [], True
    for batch, r in t["batches"].items():
        name = "0 pretrain.py" if first else ""
        first = False
        out.append((name, f"pretrain.py, batch {batch} ({t['threads']} threads, median)",
                    f"{r['ours_samples_per_s']:.2f} samples/s", "", ""))
        if "ratio" in r:
            target = TRAINER_TARGETS.get(int(batch))
            rounds = " ".join(f"{x:.2f}" for x in r["ratio_rounds"])
            out += [("", f"reference, batch {batch} (median)", f"{r['reference_samples_per_s']:.2f} samples/s",
                     "", ""),
                    ("", f"pretrain.py / reference, batch {batch} (rounds: {rounds})",
                     f"{r['ratio']:.2f}x [{r['ratio_min']:.2f}-{r['ratio_max']:.2f}]",
                     f">= {target}x" if target else "", _status(r["ratio"] >= target if target else None))]
    return out


def ceiling_rows(c: dict) -> list[tuple[str, str, str, str, str]]:
    """Section "ceiling": one view's encoder fwd+bwd, ours (with / without dropout) and the reference's, and
    the highest pretrain.py / reference ratio those times allow."""
    out, first = [], True
    for batch, r in c["batches"].items():
        ref = f" / {1e3 * r['reference_s']:.0f}" if "reference_s" in r else ""
        out.append(("0b ceiling" if first else "",
                    f"encoder fwd+bwd, {batch} clips: ours / no dropout{' / reference' if ref else ''}",
                    f"{1e3 * r['ours_s']:.0f} / {1e3 * r['ours_no_dropout_s']:.0f}{ref} ms", "", ""))
        first = False
        out.append(("", f"dropout {c['dropout']}: share of our encoder, batch {batch}",
                    f"{100 * r['dropout_share']:.0f} %", "", ""))
        if "encoder_ratio" in r:
            out.append(("", f"reference's encoder / ours, batch {batch}: with our dropout / without",
                        f"{r['encoder_ratio']:.2f}x / {r['encoder_ratio_no_dropout']:.2f}x", "", ""))
        if "ceiling" in r:
            target = TRAINER_TARGETS.get(int(batch))
            out.append(("", f"ceiling: reference step / 2 dropout-free encoder passes, batch {batch}",
                        f"{r['ceiling']:.2f}x", f">= {target}x" if target else "",
                        "above" if target and r["ceiling"] >= target else ("below" if target else "")))
    return out


def rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """(section, metric, value, target, status) for every figure of `results["sections"]`."""
    s, out = results["sections"], []
    dev = results["machine"]["device"]
    if "trainer" in s:
        out += trainer_rows(s["trainer"])
    if "ceiling" in s:
        out += ceiling_rows(s["ceiling"])
    if "throughput" in s:
        t = s["throughput"]
        target = 3.0 if dev.startswith("cuda") else 1.3
        out += [("1 throughput", f"ours ({t['precision_ours']}, on-device augment)",
                 f"{t['ours_samples_per_s']:.1f} samples/s", "", ""),
                ("", "reference-style (numpy in workers, fp32)",
                 f"{t['reference_samples_per_s']:.1f} samples/s", "", ""),
                ("", "ours / reference", f"{t['ratio']:.2f}x", f">= {target}x", _status(t["ratio"] >= target))]
        if "ratio_cpu_bf16" in t:
            out += [("", "ours + bf16 autocast on CPU (not default)",
                     f"{t['ours_cpu_bf16_samples_per_s']:.1f} samples/s", "", ""),
                    ("", "ours bf16 / reference", f"{t['ratio_cpu_bf16']:.2f}x", "", "")]
        for name, gb in t.get("peak_device_memory_gb", {}).items():
            out.append(("", f"peak device memory, {name}", f"{gb:.2f} GB", "", ""))
    if "breakdown" in s:
        b = s["breakdown"]
        first = True
        for name, r in b["rows"].items():
            out.append(("2 breakdown" if first else "", name, f"{r['ms']:.1f} ms  {r['pct']:5.1f} %", "", ""))
            first = False
        c = b["data_cost_us_per_sample"]
        out += [("", "step (sum of phases)", f"{b['step_ms']:.1f} ms", "", ""),
                ("", f"loss+mining+queue share (N={b['queue_size']}, K={b['topk']})",
                 f"{b['loss_mining_queue_pct']:.2f} %", "<= 5 %", _status(b["met"])),
                ("", "worker CPU per sample: ours (raw joints)", f"{c['ours_raw_joints']:.0f} us", "", ""),
                ("", "worker CPU per sample: reference (numpy views)", f"{c['reference_numpy_two_views']:.0f} us",
                 "", "")]
    if "encoder" in s:
        e = s["encoder"]
        out += [("3 encoder", f"fwd+bwd, {e['samples']} clips ({e['precision']})",
                 f"{e['gflop_per_fwd_bwd']:.1f} GFLOP in {e['fwd_bwd_ms']:.0f} ms", "", ""),
                ("", "encoder GFLOP/s", f"{e['encoder_gflops']:.1f}", "", ""),
                ("", f"dense matmul GFLOP/s ({e['precision']})", f"{e['matmul_gflops']:.1f}", "", ""),
                ("", "encoder / matmul", f"{e['ratio']:.2f}", "", "")]
    if "linear_eval" in s:
        le = s["linear_eval"]
        out += [("4 linear eval", f"cached features ({le['samples']} clips, {le['epochs']} epochs)",
                 f"{le['cached_s']:.2f} s", "", ""),
                ("", f"re-encoding every epoch ({le['uncached_epochs_timed']} timed, scaled)",
                 f"{le['uncached_s']:.1f} s", "", ""),
                ("", "re-encoding / cached", f"{le['ratio']:.1f}x", ">= 20x", _status(le["met"]))]
    if "data_prep" in s:
        p = s["data_prep"]
        out += [("5 data prep", f"prepare_ntu, 1 worker ({p['files']} files)",
                 f"{p['one_worker']['files_per_s']:.0f} files/s", "", ""),
                ("", f"prepare_ntu, {p['all_cores']['workers']} workers (all cores)",
                 f"{p['all_cores']['files_per_s']:.0f} files/s", "", ""),
                ("", "all cores / 1 worker", f"{p['ratio']:.2f}x", "", "")]
    if "memory" in s:
        m = s["memory"]
        out += [("6 memory", f"memmap array streamed ({m['array_gb']:.2f} GB, {m['train_steps']} train steps)",
                 f"{m['seconds']:.1f} s", "", ""),
                ("", f"peak host PSS, trainer + workers ({m['processes']} procs)", f"{m['peak_tree_pss_gb']:.2f} GB",
                 f"< {m['limit_gb']} GB", _status(m["met"])),
                ("", "peak RSS, trainer process", f"{m['peak_main_rss_gb']:.2f} GB", "", "")]
        what = {"setup": "setup (model, queue, before any batch)", "stream": "streaming batches only",
                "train": f"training steps (batch {m['batch']})"}
        for phase, gb in m.get("peak_tree_pss_gb_by_phase", {}).items():
            out.append(("", f"peak PSS, {what.get(phase, phase)}", f"{gb:.2f} GB", "", ""))
        if "peak_device_memory_gb" in m:
            out.append(("", "peak device memory", f"{m['peak_device_memory_gb']:.2f} GB", "", ""))
    return out


def table(results: dict) -> str:
    m, c = results["machine"], results["config"]
    head = (f"cpm benchmark | {m['device']} | {m.get('gpu', m['cpu'])} | {m['cores']} cores, {m['torch_threads']} "
            f"torch threads | torch {m['torch']} | load avg {m.get('load_avg_1m', '?')}\n"
            f"input {tuple(c['input'])}, hidden {c['hidden_channels']}/{c['hidden_dim']}, queue {c['queue_size']}, "
            f"K {c['topk']}, batch {c['batch']}{' | --quick' if c['quick'] else ''}\n"
            f"command: {results['command']}")
    body = rows(results)
    widths = [max(len(r[i]) for r in body + [("section", "metric", "value", "target", "status")]) for i in range(5)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format("section", "metric", "value", "target", "status"), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*r) for r in body]
    return head + "\n" + "\n".join(lines)


def _clean(x):
    """JSON-safe copy: non-finite floats become null (json would write NaN, which is not JSON), paths strings."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, Path):  # e.g. the reference script in the options
        return str(x)
    return x


def write_json(results: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(results), indent=2) + "\n")
    return path
