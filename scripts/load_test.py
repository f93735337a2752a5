"""Load test of `paddlevideo serve`: N concurrent clients x M requests, with a share of bad uploads, against a
server it starts on 127.0.0.1; every request must get exactly one answer, the right one.

Before the server starts, each video's probabilities are computed with the in-process Predictor (timed: the
in-process clips/s). Then each client sends its M requests one after the other (a good video, or every
1/bad-share-th request an empty, text or truncated upload) over its own connection, without retries, within
--time-limit. A good video must get 200 with its own probabilities (to float32 rounding across batch sizes);
a bad upload 422; 503 (queue full) is an explicit answer too. Reported: requests/s, clips/s, latency p50/p95/p99
of the 200s, answers and errors by kind, the RSS of the server and its model process after a warm-up and at the
end, its mean forward batch; then the server must still answer /healthz and exit 0 on SIGTERM. Exit status 1
when any check fails.

  python scripts/load_test.py --model inference/ --videos data/embedded/val --clients 8 --requests 20
  python scripts/load_test.py --bench     # quickstart-sized and R50 4x16 models, batching vs --max-batch 1,
                                          # and the in-process Predictor; writes its docs/benchmarks.md section
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
BAD_KINDS = ("empty", "text", "truncated")


@dataclass
class Outcome:
    """What one request got."""

    kind: str          # "good" or a bad upload's kind
    status: int        # 0: no HTTP answer (an exception)
    seconds: float
    verdict: str       # "ok", "queue_full", or what went wrong


@dataclass
class Report:
    clients: int
    requests: int
    outcomes: List[Outcome]
    wall_s: float
    rss_before_mb: float
    rss_after_mb: float
    mean_batch: float
    alive: bool
    exit_code: Optional[int]
    problems: List[str] = field(default_factory=list)

    def summary(self) -> Dict[str, object]:
        good = [o.seconds for o in self.outcomes if o.kind == "good" and o.verdict == "ok"]
        verdicts: Dict[str, int] = {}
        for o in self.outcomes:
            verdicts[f"{o.kind}:{o.verdict}"] = verdicts.get(f"{o.kind}:{o.verdict}", 0) + 1
        p50, p95, p99 = (np.percentile(good, [50, 95, 99]) if good else (float("nan"),) * 3)
        return {"clients": self.clients, "requests_per_client": self.requests, "sent": len(self.outcomes),
                "answered": sum(o.status > 0 for o in self.outcomes), "wall_s": round(self.wall_s, 2),
                "requests_per_s": round(len(self.outcomes) / self.wall_s, 3),
                "clips_per_s": round(len(good) / self.wall_s, 3),
                "latency_s": {"p50": round(float(p50), 4), "p95": round(float(p95), 4), "p99": round(float(p99), 4)},
                "answers": dict(sorted(verdicts.items())), "rss_mb": {"before": self.rss_before_mb,
                                                                      "after": self.rss_after_mb},
                "mean_batch": round(self.mean_batch, 2), "alive": self.alive, "exit_code": self.exit_code,
                "problems": self.problems}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (the server and its model process), MiB."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1])
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += int(rss_mb(int(child)) * 1024)
    return round(total / 1024, 1)


def bad_uploads(video: Path) -> Dict[str, bytes]:
    data = video.read_bytes()
    return {"empty": b"", "text": b"not a video at all\n" * 50, "truncated": data[:len(data) * 2 // 5]}


def expected_scores(model: Path, videos: Sequence[Path], threads: Optional[int],
                    clips: int) -> Tuple[Dict[Path, np.ndarray], float]:
    """Each video's probabilities from the in-process Predictor, and its clips/s over `clips` predictions (the
    videos in turn, after one warm-up clip)."""
    from paddlevideo_slowfast.deploy.predictor import Predictor

    predictor = Predictor(model, threads=threads)
    classes = len(predictor.labels)
    predictor.predict(videos[0], top_k=classes)
    scores: Dict[Path, np.ndarray] = {}
    count = max(clips, len(videos))
    start = time.perf_counter()
    for n in range(count):
        scores.setdefault(videos[n % len(videos)], predictor.predict(videos[n % len(videos)], top_k=classes).scores)
    return scores, count / (time.perf_counter() - start)


class Server:
    """`paddlevideo serve` in a subprocess on a free port."""

    def __init__(self, model: Path, options: Sequence[str]):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([sys.executable, "-m", "paddlevideo_slowfast", "serve", "--model", str(model),
                                         "--port", str(self.port), *options], stdout=self.log, stderr=self.log)

    def wait_ready(self, timeout: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not get ready in {timeout:.0f} s:\n{self.tail()}")

    def tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:]

    def stop(self) -> Optional[int]:
        """SIGTERM, then its exit code (None if it had to be killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode


def mean_batch(metrics_text: str) -> float:
    values = {}
    for line in metrics_text.splitlines():
        for key in ("paddlevideo_batch_size_sum", "paddlevideo_batch_size_count"):
            if line.startswith(key + " "):
                values[key] = float(line.split()[1])
    count = values.get("paddlevideo_batch_size_count", 0)
    return values.get("paddlevideo_batch_size_sum", 0) / count if count else float("nan")


def run_load(model: Path, videos: Sequence[Path], expected: Dict[Path, np.ndarray], *, clients: int, requests: int,
             bad_share: float, server_options: Sequence[str], time_limit: float) -> Report:
    """Start a server, warm it up, send clients x requests, check every answer, stop it."""
    import httpx

    bad = bad_uploads(videos[0])
    classes = len(next(iter(expected.values())))
    every = int(round(1 / bad_share)) if bad_share > 0 else 0
    server = Server(model, server_options)
    try:
        server.wait_ready()
        with httpx.Client(timeout=time_limit) as warm:
            for video in videos[:2]:
                warm.post(server.base + "/v1/predict", content=video.read_bytes())
        rss_before = rss_mb(server.process.pid)
        outcomes: List[List[Outcome]] = [[] for _ in range(clients)]
        deadline = time.monotonic() + time_limit

        def client(index: int) -> None:
            with httpx.Client(timeout=max(1.0, time_limit)) as http:
                for r in range(requests):
                    if time.monotonic() > deadline:
                        outcomes[index].append(Outcome("unsent", 0, 0.0, "time limit"))
                        continue
                    n = index * requests + r
                    if every and n % every == every - 1:
                        kind, video, body = BAD_KINDS[(n // every) % len(BAD_KINDS)], None, None
                        body = bad[kind]
                    else:
                        kind, video = "good", videos[n % len(videos)]
                        body = video.read_bytes()
                    started = time.perf_counter()
                    try:
                        answer = http.post(server.base + "/v1/predict", params={"top_k": classes},
                                           files={"video": (f"{kind}.mp4" if video is None else video.name, body)})
                    except httpx.HTTPError as exc:
                        outcomes[index].append(Outcome(kind, 0, time.perf_counter() - started,
                                                       f"exception {type(exc).__name__}"))
                        continue
                    seconds = time.perf_counter() - started
                    outcomes[index].append(Outcome(kind, answer.status_code, seconds,
                                                   judge(kind, video, answer, expected, classes)))

        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        rss_after = rss_mb(server.process.pid)
        try:
            alive = httpx.get(server.base + "/healthz", timeout=10).status_code == 200
            batch = mean_batch(httpx.get(server.base + "/metrics", timeout=10).text)
        except httpx.HTTPError:
            alive, batch = False, float("nan")
    finally:
        exit_code = server.stop()
    flat = [o for per_client in outcomes for o in per_client]
    report = Report(clients, requests, flat, wall, rss_before, rss_after, batch, alive, exit_code)
    if len(flat) != clients * requests:
        report.problems.append(f"{len(flat)} outcomes for {clients * requests} requests")
    report.problems += sorted({f"{o.kind}: {o.verdict}" for o in flat if o.verdict not in ("ok", "queue_full")})
    if not alive:
        report.problems.append("the server stopped answering /healthz")
    if exit_code != 0:
        report.problems.append(f"the server exited with {exit_code} on SIGTERM:\n{server.tail()}")
    return report


def judge(kind: str, video: Optional[Path], answer, expected: Dict[Path, np.ndarray], classes: int) -> str:
    """'ok' when the answer is the one this request should get, 'queue_full' for a 503, else what is wrong."""
    if answer.status_code == 503 and "Retry-After" in answer.headers:
        return "queue_full"
    if kind != "good":
        return "ok" if answer.status_code == 422 and answer.json().get("error") else f"status {answer.status_code}"
    if answer.status_code != 200:
        return f"status {answer.status_code}"
    record = answer.json()
    scores = np.zeros(classes)
    for entry in record["top_k"]:
        scores[entry["class_id"]] = entry["score"]
    if record.get("video") != video.name or not np.allclose(scores, expected[video], rtol=1e-3, atol=2e-6):
        return "wrong result"
    return "ok"


def video_list(argument: str) -> List[Path]:
    from paddlevideo_slowfast.deploy.inputs import expand_videos

    path = Path(argument)
    found = sorted(path.glob("*/*.mp4")) if path.is_dir() and not any(path.glob("*.mp4")) else None
    return found if found is not None else [Path(v) for v in expand_videos([argument])]


def server_options(args: argparse.Namespace, max_batch: int) -> List[str]:
    options = ["--max-batch", str(max_batch), "--max-wait-ms", str(args.max_wait_ms), "--max-queue",
               str(args.max_queue)]
    if args.threads:
        options += ["--threads", str(args.threads)]
    return options


def bench(args: argparse.Namespace) -> int:
    """The documented comparison: two models x (dynamic batching, --max-batch 1), plus the in-process Predictor."""
    with tempfile.TemporaryDirectory(prefix="load_test_") as folder:
        return _bench(args, Path(folder))


def _bench(args: argparse.Namespace, work: Path) -> int:
    from benchdoc import publish

    from paddlevideo_slowfast.config import load_config
    from paddlevideo_slowfast.data import make_embedded_dataset
    from paddlevideo_slowfast.deploy import ExportOptions, export_model
    from paddlevideo_slowfast.modeling import build_model

    data = make_embedded_dataset(work / "data", train_per_class=0, val_per_class=1, workers=1)
    videos = sorted((data / "val").glob("*/*.mp4"))
    models = {"quickstart (depth 10, 56 px)": (REPO / "configs" / "quickstart.yaml", []),
              "R50 4x16, 224 px": (REPO / "configs" / "slowfast.yaml", [
                  "PIPELINE.test.transform.JitterScale.min_size=224",
                  "PIPELINE.test.transform.JitterScale.max_size=224",
                  "PIPELINE.test.transform.MultiCrop.target_size=224", "INFERENCE.target_size=224"])}
    rows, reports = [], {}
    for name, (config, overrides) in models.items():
        if args.only and args.only not in name:
            continue
        cfg = load_config(str(config), overrides)
        model = build_model(cfg.MODEL)
        model.eval()
        folder = export_model(cfg, None, work / name.split()[0], ExportOptions(check=False), model=model).model_dir
        requests = args.requests if "quick" in name else args.r50_requests
        expected, in_process = expected_scores(folder, videos, args.threads, args.clients * requests)
        for batch in (args.max_batch, 1):
            report = run_load(folder, videos, expected, clients=args.clients, requests=requests,
                              bad_share=0.0, server_options=server_options(args, batch), time_limit=args.time_limit)
            summary = report.summary()
            reports[f"{name}, max batch {batch}"] = summary
            rows.append((name, batch, summary, in_process))
            print(json.dumps({name: summary}), file=sys.stderr, flush=True)
    lines = ["## Serving (`scripts/load_test.py --bench`): `paddlevideo serve` under 8 clients", "",
             f"{args.clients} clients, each sending its requests one after the other ({args.requests} each on the "
             f"quickstart-sized model, {args.r50_requests} on R50; 1x1 views of the embedded dataset's 64 px "
             "validation videos, resized by each model's pipeline), every one answered 200 with the right video's "
             "probabilities. In-process: as many clips through `Predictor.predict` one after the other in one "
             f"process. Random weights (speed does not depend on them). Server math threads: "
             f"{args.threads or 'all cores'}, 2 decoding threads, --max-wait-ms {args.max_wait_ms:g}; RSS of the "
             f"server and its model process. {args.machine}", "",
             "| model | --max-batch | requests/s | p50 s | p99 s | mean batch | server RSS MB (before -> after) "
             "| clips/s: service / in-process |", "|---|---|---|---|---|---|---|---|"]
    for name, batch, s, in_process in rows:
        lines.append(f"| {name} | {batch} | {s['requests_per_s']} | {s['latency_s']['p50']} | "
                     f"{s['latency_s']['p99']} | {s['mean_batch']} | {s['rss_mb']['before']} -> "
                     f"{s['rss_mb']['after']} | {s['clips_per_s']} / {in_process:.3f} = "
                     f"**{s['clips_per_s'] / in_process:.0%}** |")
    publish("serving", "\n".join(lines), args.docs or None)
    problems = [p for s in reports.values() for p in s["problems"]]
    for problem in problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="an exported model folder (not with --bench)")
    parser.add_argument("--videos", default=str(REPO / "data" / "embedded" / "val"),
                        help="a folder (of class folders) of videos, or a list file (default data/embedded/val)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=20, help="requests per client (default 20)")
    parser.add_argument("--r50-requests", type=int, default=4, help="--bench: requests per client on R50 (4)")
    parser.add_argument("--bad-share", type=float, default=0.1, help="share of bad uploads (default 0.1)")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=10.0)
    parser.add_argument("--max-queue", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="the server's math threads (default all cores)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds for all requests (default 600)")
    parser.add_argument("--bench", action="store_true", help="the documented comparison (writes --docs)")
    parser.add_argument("--only", default="", help="--bench: only the models whose name contains this")
    parser.add_argument("--machine", default="", help="--bench: a sentence on the machine, for the docs")
    parser.add_argument("--docs", default=str(REPO / "docs" / "benchmarks.md"), help="file to update ('' = none)")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    if args.bench:
        return bench(args)
    if not args.model:
        parser.error("--model is required without --bench")
    videos = video_list(args.videos)
    if not videos:
        parser.error(f"no videos in {args.videos}")
    expected, in_process = expected_scores(Path(args.model), videos, args.threads, len(videos))
    report = run_load(Path(args.model), videos, expected, clients=args.clients, requests=args.requests,
                      bad_share=args.bad_share, server_options=server_options(args, args.max_batch),
                      time_limit=args.time_limit)
    summary = report.summary()
    summary["in_process_clips_per_s"] = round(in_process, 3)
    print(json.dumps(summary, indent=1))
    for problem in report.problems:
        print(f"FAILED: {problem}", file=sys.stderr)
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
