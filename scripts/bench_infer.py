#!/usr/bin/env python
"""Inference benchmark: SlowFast R50 4x16 at 224, batch 1, on every runtime `paddlevideo export` feeds.

Runtimes (the same weights and clip; each runtime's probabilities are checked against dygraph):
  Paddle dygraph; Paddle Inference with oneDNN off; Paddle Inference with oneDNN on, exported without and with
  BN folding (the default export); ONNX Runtime on the paddle2onnx conversion of that export.
`--investigate` adds the settings looked at (legacy .pdmodel on the old IR passes, new executor off, 1 thread)
and records the ones that fail (enable_memory_optim, the OpenVINO engine) with their errors.

Timing: each runtime is warmed up, then the runtimes run round-robin, one clip each per round, so load from
other processes hits all of them alike. A round during which other processes used more than
`--max-foreign` of the CPUs (from /proc/stat, minus this process's own CPU time) is thrown away and run
again after a pause, for up to `--max-minutes`; after that, rounds are kept whatever the load (and counted).
Reported: median s/clip over the kept rounds, clips/s, speed-up over ONNX Runtime, and % of the fp32 peak for
the model's multiply-adds (27.8 GMAC at 224). The peak is the best result of an independent-FMA loop (AVX-512,
compiled on the spot; needs a C compiler) run at the end of every kept round, or --peak-gmacs.

Writes its table to docs/benchmarks.md between `<!-- bench_infer:start -->` and `<!-- bench_infer:end -->`
(the rest of the file is kept). Usage: python scripts/bench_infer.py [--rounds 7] [--threads 2] [--investigate]
"""
from __future__ import annotations

import argparse
import os
import sys

# thread counts are read when the libraries load: settle them before numpy or paddle is imported
_THREADS = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "2")
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, _THREADS)

import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402

from benchdoc import publish  # noqa: E402  (scripts/ is on sys.path when run)
from benchmodel import trained_like_bn  # noqa: E402  (scripts/ is on sys.path when run)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GMAC_224 = 27.8  # SlowFast R50 4x16 at 224 (docs: shared/reference); recomputed from the model when possible

FMA_LOOP = r"""
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
#include <omp.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(void){
  const long loops=20000000L; double best=0;
  for(int rep=0;rep<3;rep++){
    double t0=now(); float sink=0;
    #pragma omp parallel reduction(+:sink)
    {
      volatile float seed=1.0f;
      __m512 a[12]; for(int i=0;i<12;i++) a[i]=_mm512_set1_ps(seed+i);
      __m512 b=_mm512_set1_ps(0.9999999f), c=_mm512_set1_ps(1e-7f);
      for(long i=0;i<loops;i++){
        #pragma GCC unroll 12
        for(int j=0;j<12;j++) a[j]=_mm512_fmadd_ps(a[j],b,c);
      }
      __m512 s=a[0]; for(int i=1;i<12;i++) s=_mm512_add_ps(s,a[i]);
      sink+=_mm512_reduce_add_ps(s);
    }
    double g=(double)omp_get_max_threads()*loops*12*16/(now()-t0)/1e9; if(g>best)best=g;
    if(sink==42.0f)printf("#");
  }
  printf("%.2f\n",best); return 0;
}
"""


# ---- the machine ---------------------------------------------------------------------------------------------
def cpu_description() -> str:
    """Model name, family/model, core count and the vector extensions that matter here."""
    info: Dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    flags = set(info.get("flags", "").split())
    ext = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if f in flags]
    cores = len(os.sched_getaffinity(0))
    return (f"{info.get('model name', '?')} (family {info.get('cpu family', '?')} model {info.get('model', '?')}), "
            f"{cores} cores available, {', '.join(ext)}")


class FmaProbe:
    """fp32 GMAC/s of `threads` cores running independent AVX-512 FMAs: the machine's fp32 peak.

    Compiled once; run once per timing round, so that it is measured under the same load check as the runtimes.
    Unavailable (None) without a C compiler or AVX-512."""

    def __init__(self, threads: int, enabled: bool = True):
        self.threads, self.binary = threads, None
        compiler = shutil.which("cc") or shutil.which("gcc")
        if not enabled or not compiler or "avx512f" not in Path("/proc/cpuinfo").read_text():
            return
        self._dir = tempfile.TemporaryDirectory(prefix="fma_")
        source, binary = Path(self._dir.name) / "fma.c", Path(self._dir.name) / "fma"
        source.write_text(FMA_LOOP)
        build = subprocess.run([compiler, "-O2", "-mavx512f", "-fopenmp", str(source), "-o", str(binary)],
                               capture_output=True, text=True)
        self.binary = binary if build.returncode == 0 else None

    def __call__(self) -> Optional[float]:
        if self.binary is None:
            return None
        run = subprocess.run([str(self.binary)], capture_output=True, text=True,
                             env=dict(os.environ, OMP_NUM_THREADS=str(self.threads)))
        return float(run.stdout.strip().lstrip("#")) if run.returncode == 0 else None


class ForeignLoad:
    """CPU seconds that other processes (and the hypervisor's steal) used between two readings; this process's
    own time includes its finished children (the FMA loop)."""

    def __init__(self):
        self.hz = os.sysconf("SC_CLK_TCK")
        self.reset()

    @staticmethod
    def _busy() -> float:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        return user + nice + system + irq + softirq + steal

    def reset(self) -> None:
        self._busy0, self._own0, self._wall0 = self._busy(), sum(os.times()[:4]), time.perf_counter()

    def fraction(self) -> float:
        """Other processes' CPU time as a fraction of this machine's CPU capacity since `reset`."""
        busy = (self._busy() - self._busy0) / self.hz
        own = sum(os.times()[:4]) - self._own0
        wall = time.perf_counter() - self._wall0
        return max(0.0, busy - own) / (wall * (os.cpu_count() or 1))


# ---- the runtimes ----------------------------------------------------------------------------------------------
@dataclass
class Runtime:
    name: str
    run: Callable[[], np.ndarray]
    note: str = ""
    times: List[float] = field(default_factory=list)
    max_abs: float = float("nan")


def build_exports(work: Path, threads: int, investigate: bool):
    """The R50 4x16 model (seed-0 init, BN statistics drawn so that folding matters) and its exports."""
    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.modeling import build_model

    crop = 224
    cfg = load_config(str(REPO / "configs" / "slowfast.yaml"), [
        f"PIPELINE.test.transform.JitterScale.min_size={crop}", f"PIPELINE.test.transform.JitterScale.max_size={crop}",
        f"PIPELINE.test.transform.MultiCrop.target_size={crop}", f"INFERENCE.target_size={crop}"])
    model = build_model(cfg.MODEL)
    model.eval()
    trained_like_bn(model)
    exports = {"folded": export_model(cfg, None, work / "folded", ExportOptions(onnx=True, check=False), model=model),
               "unfolded": export_model(cfg, None, work / "unfolded", ExportOptions(fold_bn=False, check=False),
                                        model=model)}
    if investigate:
        exports["legacy"] = export_model(cfg, None, work / "legacy", ExportOptions(legacy=True, check=False),
                                         model=model)
    return model, exports


def paddle_runtime(export, clip, threads: int, onednn: bool = True,
                   tweak: Optional[Callable] = None) -> Callable[[], np.ndarray]:
    """A Paddle Inference predictor of `export` with the project's settings, then `tweak(config)`."""
    import paddle.inference as pi

    from paddlevideo_slowfast.deploy.runtime import paddle_config, stdout_to_stderr

    config = paddle_config(export.model_file, export.params_file, threads=threads, onednn=onednn)
    if tweak:
        tweak(config)
    with stdout_to_stderr():
        predictor = pi.create_predictor(config)
    handles = [predictor.get_input_handle(n) for n in ("slow", "fast")]
    output = predictor.get_output_handle(predictor.get_output_names()[0])

    def run() -> np.ndarray:
        for handle, x in zip(handles, clip):
            handle.reshape(list(x.shape))
            handle.copy_from_cpu(x)
        with stdout_to_stderr():
            predictor.run()
        return output.copy_to_cpu()
    return run


def try_runtime(name: str, make: Callable[[], Callable[[], np.ndarray]], failures: Dict[str, str]):
    try:
        return make()
    except Exception as exc:  # the investigated settings that Paddle rejects are recorded, not fatal
        failures[name] = " ".join(str(exc).split())[:240]
        return None


def runtimes(model, exports, clip, threads: int, investigate: bool) -> Tuple[List[Runtime], Dict[str, str]]:
    import paddle

    from paddlevideo_slowfast.deploy.onnx import OnnxRunner

    tensors = [paddle.to_tensor(x) for x in clip]

    def dygraph() -> np.ndarray:
        with paddle.no_grad():
            return model(tensors, mode="infer").numpy()

    folded, unfolded = exports["folded"], exports["unfolded"]
    onnx = OnnxRunner(folded.onnx_file, threads=threads)
    rows = [Runtime("Paddle dygraph", dygraph, "eval mode, no_grad"),
            Runtime("Paddle Inference, oneDNN off", paddle_runtime(folded, clip, threads, onednn=False),
                    "BN folded"),
            Runtime("Paddle Inference, oneDNN on, BN not folded", paddle_runtime(unfolded, clip, threads),
                    "`EXPORT.fold_bn: false`"),
            Runtime("**Paddle Inference, oneDNN on** (default export)", paddle_runtime(folded, clip, threads),
                    "BN folded into conv3d at export"),
            Runtime("ONNX Runtime (paddle2onnx of the same export)", lambda: onnx(*clip),
                    f"ORT_ENABLE_ALL, {threads} intra-op threads")]
    failures: Dict[str, str] = {}
    if investigate:
        extra = [
            ("Paddle Inference, legacy .pdmodel, old IR passes",
             lambda: paddle_runtime(exports["legacy"], clip, threads, tweak=lambda c: c.enable_new_ir(False)),
             "`--legacy-format`, enable_new_ir(False)"),
            ("Paddle Inference, oneDNN on, new executor off",
             lambda: paddle_runtime(folded, clip, threads, tweak=lambda c: c.enable_new_executor(False)), ""),
            ("Paddle Inference, oneDNN on, 1 thread", lambda: paddle_runtime(folded, clip, 1), ""),
            ("Paddle Inference + enable_memory_optim()",
             lambda: paddle_runtime(folded, clip, threads, tweak=lambda c: c.enable_memory_optim()), ""),
            ("Paddle Inference + OpenVINO engine (legacy .pdmodel)",
             lambda: paddle_runtime(exports["legacy"], clip, threads,
                                    tweak=lambda c: c.enable_openvino_engine()), ""),
        ]
        for name, make, note in extra:
            run = try_runtime(name, make, failures)
            if run is not None:
                run()  # some settings fail only when the program first runs
                rows.append(Runtime(name, run, note))
    return rows, failures


def measure(rows: List[Runtime], rounds: int, warmup: int, max_foreign: float, budget_s: float,
            probe: FmaProbe, peaks: List[float]) -> Tuple[int, int]:
    """Round-robin timing, the FMA probe closing each round (its results go to `peaks`); returns (rounds
    dropped for foreign load, rounds kept although loaded). A dropped
    round is followed by a pause (2 s, doubling to 16 s) so that a burst of other work can pass; once
    `budget_s` is spent, the remaining rounds are kept whatever the load (and counted as such)."""
    for row in rows:
        for _ in range(warmup):
            row.run()
    load, dropped, loaded, pause = ForeignLoad(), 0, 0, 2.0
    deadline = time.perf_counter() + budget_s
    while len(rows[0].times) < rounds:
        load.reset()
        spent = []
        for row in rows:
            start = time.perf_counter()
            row.run()
            spent.append(time.perf_counter() - start)
        peak = probe()
        foreign = load.fraction()
        if foreign > max_foreign:
            if time.perf_counter() < deadline:
                dropped += 1
                print(f"  round dropped: other processes used {100 * foreign:.0f}% of the CPUs; waiting "
                      f"{pause:.0f} s", flush=True)
                time.sleep(pause)
                pause = min(2 * pause, 16.0)
                continue
            loaded += 1
        pause = 2.0
        if peak:
            peaks.append(peak)
        for row, seconds in zip(rows, spent):
            row.times.append(seconds)
        print(f"  round {len(rows[0].times)} (others {100 * foreign:.0f}%): " + ", ".join(f"{s:.3f}" for s in spent),
              flush=True)
    return dropped, loaded


# ---- the report ------------------------------------------------------------------------------------------------
def table(rows: List[Runtime], failures: Dict[str, str], gmac: float, peak: Optional[float], peak_how: str,
          threads: int, dropped: int, loaded: int, args) -> str:
    import onnxruntime
    import paddle

    ort = next(r for r in rows if r.name.startswith("ONNX Runtime"))
    ort_median = float(np.median(ort.times))
    lines = [f"## Inference (`scripts/bench_infer.py`): SlowFast R50 4x16, 224 px, batch 1, {threads} threads",
             "",
             f"Machine: {cpu_description()}. Paddle {paddle.__version__}, onnxruntime {onnxruntime.__version__}, "
             f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d')}.",
             f"Median of {len(rows[0].times)} round-robin rounds after {args.warmup} warm-up runs each "
             f"({dropped} rounds with other processes busy were dropped and rerun"
             + (f"; {loaded} kept under load when the time budget ran out" if loaded else "") + "). "
             f"{gmac:.1f} GMAC per clip; fp32 peak {peak_how}.",
             "",
             "| runtime | s/clip | clips/s | vs ONNX Runtime | % of fp32 peak | max abs vs dygraph | notes |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        median = float(np.median(row.times))
        share = f"{100 * gmac / median / peak:.0f}%" if peak else "n/a"
        lines.append(f"| {row.name} | {median:.3f} | {1 / median:.2f} | {ort_median / median:.2f}x | {share} | "
                     f"{row.max_abs:.1e} | {row.note} |")
    for name, error in failures.items():
        lines.append(f"| {name} | fails | | | | | `{error}` |")
    best = next(r for r in rows if r.name.startswith("**Paddle Inference, oneDNN on**"))
    speedup = ort_median / float(np.median(best.times))
    lines += ["", f"Paddle Inference (default export) vs ONNX Runtime in the same run: {speedup:.2f}x "
              f"(target >= 1.4x: {'met' if speedup >= 1.4 else 'missed'})."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads of every runtime (default 2)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds kept (default 7)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs per runtime first (default 2)")
    parser.add_argument("--max-foreign", type=float, default=0.1,
                        help="drop a round when other processes used more than this share of the CPUs (0.1)")
    parser.add_argument("--max-minutes", type=float, default=6.0,
                        help="time to wait for quiet rounds before keeping loaded ones (default 6)")
    parser.add_argument("--peak-gmacs", type=float, default=None,
                        help="fp32 peak GMAC/s of the threads used (default: measured with an FMA loop)")
    parser.add_argument("--investigate", action="store_true", help="also time/record the other settings tried")
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    args = parser.parse_args()

    import paddle

    from paddlevideo_slowfast.modeling import count_macs

    probe = FmaProbe(args.threads, enabled=args.peak_gmacs is None)
    rng = np.random.default_rng(0)
    clip = (rng.standard_normal((1, 3, 4, 224, 224)).astype(np.float32),
            rng.standard_normal((1, 3, 32, 224, 224)).astype(np.float32))
    with tempfile.TemporaryDirectory(prefix="bench_infer_") as tmp:
        print("exporting R50 4x16 at 224 ...", flush=True)
        model, exports = build_exports(Path(tmp), args.threads, args.investigate)
        gmac = count_macs(model, [paddle.to_tensor(x) for x in clip]) / 1e9 or GMAC_224
        rows, failures = runtimes(model, exports, clip, args.threads, args.investigate)
        reference = rows[0].run()
        for row in rows:
            row.max_abs = float(np.abs(row.run() - reference).max())
        print(f"timing {len(rows)} runtimes, {args.rounds} rounds ...", flush=True)
        peaks: List[float] = []
        dropped, loaded = measure(rows, args.rounds, args.warmup, args.max_foreign, 60.0 * args.max_minutes,
                                  probe, peaks)
    peak, peak_how = args.peak_gmacs, "given as --peak-gmacs"
    if peak is None:
        peak = max(peaks) if peaks else None
        peak_how = (f"{peak:.0f} GMAC/s, the best of an independent-FMA loop (AVX-512, {args.threads} threads) "
                    f"run after every kept round" if peak else "unknown (no C compiler or no AVX-512)")
        if peak and loaded:
            peak_how += " (rounds under load lower it: pass --peak-gmacs measured on an idle machine)"
    section = table(rows, failures, gmac, peak, peak_how, args.threads, dropped, loaded, args)
    publish("bench_infer", section, args.docs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
