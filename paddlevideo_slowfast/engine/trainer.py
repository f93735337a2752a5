"""The training loop: PaddleVideo's recipe from config, resumable from atomic checkpoints, data-parallel via
`paddle.distributed.launch`, with gradient accumulation, PreciseBN and validation."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..config import AttrDict, get
from ..errors import CheckpointError, ConfigError
from ..runtime import output_folder, select_device
from . import checkpoint as ckpt
from .distributed import barrier, broadcast_buffers, init_distributed, is_main_process, rank, world_size
from .interrupt import Interrupted, deferred_interrupt, is_interrupt
from .logging import Average, RunRecorder, format_eta, get_logger, progress_bar, setup_logging
from .multigrid import build_plan, notes as multigrid_notes
from .multigrid_run import MultigridRun
from .watchdog import guard, start_watchdog
from .precise_bn import recompute_bn_stats
from .seeding import derive_seed, rng_state, seed_everything, set_rng_state


@dataclass
class TrainOptions:
    """What the `train` verb's flags ask for, beside the config."""

    weights: Optional[str] = None
    resume: Optional[str] = None          # a checkpoint stem/path, or "auto"
    validate: bool = False
    amp: bool = False
    amp_level: str = "O1"
    seed: Optional[int] = None
    output: Optional[str] = None


def accumulation_steps(cfg: AttrDict, batch_size: int) -> int:
    """Micro-batches per optimizer step from PaddleVideo's GRADIENT_ACCUMULATION.global_batch_size."""
    section = cfg.get("GRADIENT_ACCUMULATION") or {}
    global_batch = section.get("global_batch_size") if section else None
    if not global_batch:
        return 1
    per_step = batch_size * world_size()
    if not isinstance(global_batch, int) or global_batch < per_step or global_batch % per_step:
        raise ConfigError(f"global_batch_size must be a multiple of batch_size x processes = {per_step}",
                          file=cfg.GRADIENT_ACCUMULATION.source_of("global_batch_size"),
                          key="GRADIENT_ACCUMULATION.global_batch_size", expected=f"a multiple of {per_step}")
    return global_batch // per_step


def config_warnings(cfg: AttrDict, *, distributed: bool, device: str) -> List[str]:
    """What the config asks for that this run cannot do, each as a log line (keys that would otherwise be ignored)."""
    notes = []
    if get(cfg, "sync_bn") and distributed and device != "gpu":
        notes.append(f"sync_bn: true is ignored on {device}: Paddle's SyncBatchNorm has GPU kernels only, so each of "
                     f"the {world_size()} processes uses plain BatchNorm over its own batch of "
                     f"{get(cfg, 'DATASET.batch_size')} clips")
    built = build_plan(cfg) if cfg.get("MULTIGRID") else None
    if built is not None:
        if get(cfg, "sync_bn") and distributed and device == "gpu" and built[0].settings.long_cycle:
            notes.append("sync_bn: true is ignored under MULTIGRID.LONG_CYCLE: BN statistics are grouped by "
                         "MULTIGRID.bn_base_size within each process, as PaddleVideo's sub-batch BN does")
        notes.extend(multigrid_notes(cfg, built[0]))
    elif cfg.get("MULTIGRID"):
        notes.append("MULTIGRID turns neither LONG_CYCLE nor SHORT_CYCLE on: plain training")
    return notes


def _resume_stem(cfg: AttrDict, folder: Path, resume: Optional[str]) -> Optional[Path]:
    """Which checkpoint to resume from: `--resume auto|PATH`, else PaddleVideo's `resume_epoch` key."""
    model_name = str(cfg.get("model_name", "model"))
    if resume == "auto":
        latest = ckpt.latest_loadable(folder, model_name)  # skipped files are logged with the reason
        if latest is None:
            get_logger().info("resume auto: no readable checkpoint of %s in %s; starting from scratch at epoch 1",
                              model_name, folder)
        return latest[1] if latest else None
    if resume:
        path = Path(resume)
        return path.with_suffix("") if path.suffix in (".pdparams", ".pdopt") else path
    epoch = int(cfg.get("resume_epoch") or 0)
    return ckpt.checkpoint_stem(folder, model_name, epoch) if epoch else None


class Trainer:
    """Builds everything from a config and runs the epochs; see `train_model`."""

    def __init__(self, cfg: AttrDict, options: TrainOptions):
        import paddle

        from ..data import build_dataloader
        from ..interop.weights import load_weights
        from ..metrics import build_metric
        from ..modeling import build_model
        from ..solver import build_optimizer

        self.cfg, self.options = cfg, options
        self.distributed = init_distributed()
        self.folder = output_folder(cfg, options.output)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot write to the output folder {self.folder}: {exc.strerror or exc}",
                              key="--output", expected="a folder this user may create and write") from None
        self.log = setup_logging(self.folder, str(cfg.get("log_level", "INFO")))
        self.device = select_device(options.amp)
        self.watchdog = (start_watchdog(cfg, self.folder, self.device, rank(), world_size(), self.log)
                         if self.distributed else None)
        self.seed = int(options.seed if options.seed is not None else cfg.get("seed", 0))
        seed_everything(derive_seed(self.seed, rank()))
        self.model_name = str(cfg.get("model_name", "model"))
        self.epochs = int(cfg.epochs)

        self.model = build_model(cfg.MODEL, seed=self.seed)  # the same seed on every rank: identical weights
        self.train_metrics = tuple(getattr(self.model, "train_metrics", ("top1", "top5")))  # logged beside the loss
        self.valid_key = str(getattr(self.model, "validation_key", "top1"))  # picks the `_best` checkpoint
        self.batch_size = int(cfg.DATASET.batch_size)
        self.accum = accumulation_steps(cfg, self.batch_size)
        self.multigrid = MultigridRun.from_config(cfg, seed=self.seed, accumulation=self.accum)
        if self.multigrid is not None:
            self.epochs = self.multigrid.epochs
            self.multigrid.prepare(self.model)
        if get(cfg, "sync_bn") and self.distributed and self.device == "gpu" and not (
                self.multigrid is not None and self.multigrid.long_cycle):
            self.model = paddle.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        if is_main_process():
            for note in config_warnings(cfg, distributed=self.distributed, device=self.device):
                self.log.warning(note)
            for line in self.multigrid.describe() if self.multigrid is not None else ():
                self.log.info(line)
        if options.weights:
            load_weights(self.model, options.weights, allow_head_reinit=True)

        if self.multigrid is not None:  # epoch 1's shape; each epoch's own is set as it starts
            self.train_loader, self.precise_loader = self.multigrid.loaders(0)
        else:
            self.train_loader = self.precise_loader = build_dataloader(cfg, "train", seed=self.seed)
        self.valid_loader = build_dataloader(cfg, "valid", seed=self.seed) if options.validate else None
        self.iters_per_epoch = len(self.train_loader)
        self.steps_per_epoch = max(1, -(-self.iters_per_epoch // self.accum))  # a partial last step counts
        optimizer_cfg = self.multigrid.optimizer_cfg if self.multigrid is not None else cfg.OPTIMIZER
        self.optimizer, self.lr = build_optimizer(optimizer_cfg, self.model, num_iters=self.steps_per_epoch)

        self.start_epoch, self.global_step, self.best = 0, 0, -1.0
        stem = _resume_stem(cfg, self.folder, options.resume)
        if stem is not None:
            self._resume(stem)
        elif options.resume and options.resume != "auto":
            raise CheckpointError(options.resume, reason="no checkpoint to resume from")
        self.epoch_done = self.start_epoch

        self.scaler = paddle.amp.GradScaler(init_loss_scaling=2.0 ** 15) if options.amp else None
        if options.amp and options.amp_level == "O2":  # fp16 weights: decorate before the data-parallel wrapper
            self.model, self.optimizer = paddle.amp.decorate(self.model, self.optimizer, level="O2")
        self.net = paddle.DataParallel(self.model) if self.distributed else self.model
        self.recorder = RunRecorder(self.folder)
        self.stop = None  # set while `run` defers Ctrl-C to the next micro-batch

    def _resume(self, stem: Path) -> None:
        """Restore weights, optimizer, scheduler, counters and RNG from a checkpoint pair."""
        params, state = ckpt.load_pair(stem)
        missing, unexpected = self.model.set_state_dict(params)
        if missing or unexpected:
            raise CheckpointError(str(stem) + ".pdparams", missing=missing, unexpected=unexpected,
                                  reason="resume checkpoint does not match the model")
        if "optimizer" in state:  # ours
            self.optimizer.set_state_dict(state["optimizer"])
            if self.lr is not None and state.get("lr_scheduler"):
                self.lr.set_state_dict(state["lr_scheduler"])
            self.start_epoch = int(state["epoch"])
            self.global_step = int(state.get("global_step", 0))
            self.best = float(state.get("best", -1.0))
            if state.get("rng") and world_size() == int(state.get("world_size", 1)):
                set_rng_state(state["rng"])
            if self.multigrid is not None:
                self.multigrid.load_state(self.model, state.get("multigrid"), str(stem) + ".pdopt")
        else:  # a PaddleVideo .pdopt: the optimizer's own state dict; the epoch is in the file name
            self.optimizer.set_state_dict(state)
            self.start_epoch = int(str(stem).rsplit("_epoch_", 1)[-1]) if "_epoch_" in str(stem) else 0
            self.global_step = self.start_epoch * self.steps_per_epoch
        if is_main_process():  # the interrupted run's records past this point are about to be written again
            dropped = RunRecorder.rewind(self.folder, step=self.global_step, epoch=self.start_epoch)
            if dropped:
                self.log.info("metrics.jsonl: dropped %d records written after epoch %d by the interrupted run",
                              dropped, self.start_epoch)
        self.log.info("resumed from %s at epoch %d (step %d)", stem, self.start_epoch, self.global_step)

    def _train_state(self, epoch: int) -> Dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(),
                "lr_scheduler": self.lr.state_dict() if self.lr is not None else None,
                "epoch": epoch, "global_step": self.global_step, "best": self.best,
                "rng": rng_state(), "world_size": world_size(), "model_name": self.model_name,
                **({"multigrid": self.multigrid.state(self.model)} if self.multigrid is not None else {})}

    def _save(self, epoch: Optional[int]) -> None:
        if is_main_process():
            stem = ckpt.save_checkpoint(self.folder, self.model_name, self.model.state_dict(),
                                        self._train_state(self.epoch_done), epoch)
            self.log.info("saved %s.pdparams/.pdopt", stem)

    def _forward_loss(self, batch) -> Dict[str, Any]:
        import paddle

        step = self._dp_step if self.distributed else self.model.train_step
        if self.options.amp:
            with paddle.amp.auto_cast(level=self.options.amp_level):
                return step(batch)
        return step(batch)

    def _dp_step(self, batch) -> Dict[str, Any]:
        """The train step through DataParallel's forward, so that gradients are all-reduced across processes."""
        return self.model.parallel_train_step(self.net, batch)

    def train_epoch(self, epoch: int) -> Dict[str, float]:
        """One pass over the training loader (`epoch` counts from 0: logs call it epoch + 1); returns the epoch's
        mean loss/top-1/top-5. Every gradient is applied by the epoch's end, so a resume from its checkpoint is exact."""
        import paddle

        if self.multigrid is not None:
            self._enter_multigrid_epoch(epoch)
        seed_everything(derive_seed(self.seed, epoch, rank()))
        if hasattr(self.train_loader, "set_epoch"):
            self.train_loader.set_epoch(epoch)
        self.model.train()
        stats = {k: Average() for k in ("loss", *self.train_metrics, "batch_time", "data_time")}
        interval = int(self.cfg.get("log_interval", 10))
        if get(self.cfg, "log_samples"):
            self._write_samples(epoch)
        bar = progress_bar(self.iters_per_epoch, f"epoch {epoch + 1}/{self.epochs}")
        tic = time.time()
        pending = 0  # micro-batches whose gradient is accumulated but not applied yet
        for i, batch in enumerate(self.train_loader):
            if self.stop is not None and self.stop.requested:
                raise KeyboardInterrupt
            stats["data_time"].update(time.time() - tic)
            group = min(self.accum, self.iters_per_epoch - (i - i % self.accum))  # the last one may be partial
            lr = float(self.optimizer.get_lr())  # the rate this micro-batch's step uses
            first = i == 0 and epoch == self.start_epoch  # may compile the conv3d op: not a wait on the others
            step = f"epoch {epoch + 1} iter {i + 1} (forward, backward, all-reduce)"
            with guard(step, enforce=not first):
                out = self._forward_loss(batch)
                loss = out["loss"] / group if group > 1 else out["loss"]  # the step's gradient: the group's mean
                if self.scaler is not None:
                    self.scaler.scale(loss).backward()
                else:
                    loss.backward()
            pending += 1
            if pending >= group:
                self._apply_step()
                pending = 0
            n = int(batch[0].shape[0])
            for key in ("loss", *self.train_metrics):
                if key in out:
                    stats[key].update(float(out[key]), n)
            stats["batch_time"].update(time.time() - tic)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss'].last:.4f}")
            if i % interval == 0 or i == self.iters_per_epoch - 1:
                self._log_iter(epoch, i, stats, lr)
            tic = time.time()
        if pending:  # the loader gave fewer batches than its length: never carry a gradient into the next epoch
            self._apply_step()
        if bar is not None:
            bar.close()
        if self.lr is not None and not get(self.cfg, "OPTIMIZER.learning_rate.iter_step", True):
            self.lr.step()
        return {k: stats[k].mean for k in ("loss", *self.train_metrics)}

    def _enter_multigrid_epoch(self, epoch: int) -> None:
        """The loaders, BN groups and LR position of epoch `epoch`'s multigrid shape (0-based)."""
        self.train_loader, self.precise_loader = self.multigrid.loaders(epoch)
        self.iters_per_epoch = len(self.train_loader)
        self.steps_per_epoch = max(1, -(-self.iters_per_epoch // self.accum))
        self.multigrid.enter_epoch(epoch, self.model, self.lr, self.steps_per_epoch)

    def _apply_step(self) -> None:
        """One optimizer step from the accumulated gradient, then clear it and advance the per-step schedule."""
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.clear_grad()
        self.global_step += 1
        if self.lr is not None and get(self.cfg, "OPTIMIZER.learning_rate.iter_step", True):
            self.lr.step()

    def _write_samples(self, epoch: int) -> None:
        """Append the dataset indices this rank trains on in `epoch` (one batch a line) to samples_rank<r>.txt."""
        sampler = getattr(self.train_loader, "batch_sampler", None)
        if sampler is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"samples_rank{rank()}.txt", "a", encoding="utf-8") as handle:
            for batch in sampler:
                handle.write(f"{epoch} " + " ".join(str(i[0] if isinstance(i, tuple) else i) for i in batch) + "\n")

    def _log_iter(self, epoch: int, i: int, stats: Dict[str, Average], lr: float) -> None:
        remaining = ((self.epochs - epoch) * self.iters_per_epoch - i - 1) * stats["batch_time"].mean
        bad = self.bad_videos()
        first = self.train_metrics[0]
        self.log.info("epoch %d/%d iter %d/%d loss %.4f %s %.3f lr %.6f batch %.3fs data %.3fs eta %s bad videos %d",
                      epoch + 1, self.epochs, i + 1, self.iters_per_epoch, stats["loss"].last, first,
                      stats[first].last, lr, stats["batch_time"].last, stats["data_time"].last,
                      format_eta(remaining), bad)
        self.recorder.record("train", self.global_step, {"epoch": epoch + 1, "loss": stats["loss"].last,
                                                         **{k: stats[k].last for k in self.train_metrics},
                                                         "lr": lr})

    def bad_videos(self) -> int:
        dataset = getattr(self.train_loader, "dataset", None)
        return int(getattr(dataset, "bad_count", 0) or 0)

    def precise_bn(self) -> None:
        """PreciseBN when configured (over base-shape batches in multigrid), then the BN groups merged."""
        precise = self.cfg.get("PRECISEBN")
        if precise and int(precise.get("num_iters_preciseBN", 0)) > 0:
            start = time.time()
            used = recompute_bn_stats(self.model, self.precise_loader,
                                      min(int(precise.num_iters_preciseBN), len(self.precise_loader)),
                                      lambda b: self.model.backbone(b[:2]))  # the BN layers are all there
            self.log.info("PreciseBN: BN statistics recomputed over %d batches in %.1fs", used, time.time() - start)
        if self.multigrid is not None:
            self.multigrid.aggregate(self.model)

    def validate(self, epoch: int, precise_bn: bool = True) -> Dict[str, float]:
        """PreciseBN (when configured and `precise_bn`), then top-1/top-5 on the validation loader, after `epoch`
        (1-based) epochs."""
        from .detection_eval import build_detection_metric, evaluate_detections, is_detector
        from .evaluator import evaluate, validation_metric

        if precise_bn:
            self.precise_bn()
        broadcast_buffers(self.model)  # every rank scores the model rank 0 saves
        self.log.info("validation after epoch %d/%d", epoch, self.epochs)
        if is_detector(self.model):
            metric = build_detection_metric(get(self.cfg, "METRIC") or {}, self.valid_loader)
            result = evaluate_detections(self.model, self.valid_loader, metric, log=self.log)
            result = {k: v for k, v in result.items() if not isinstance(v, (dict, list))}  # the per-class table
            # belongs to `paddlevideo test`'s report
        else:
            metric = validation_metric(self.valid_loader)
            result = evaluate(self.model, self.valid_loader, mode="valid", metric=metric, log=self.log)
            self.recorder.confusion("valid", self.global_step, metric.confusion, metric.label_names)
        self.recorder.record("valid", self.global_step, {"epoch": epoch, **result})
        return result

    def _due(self, epoch: int, interval_key: str) -> bool:
        """Whether `interval_key` (val_interval, save_interval) asks for work after `epoch` (1-based) epochs."""
        interval = int(self.cfg.get(interval_key, 1) or 1)
        return epoch % interval == 0 or epoch == self.epochs

    def _last_checkpoint_line(self) -> str:
        """The one line a Ctrl-C prints: where the newest complete checkpoint is, or that there is none."""
        latest = ckpt.latest_checkpoint(self.folder, self.model_name)
        if latest is None:
            return f"interrupted; no complete checkpoint in {self.folder} yet"
        epoch, stem = latest
        return (f"interrupted; last complete checkpoint: {stem}.pdparams (after epoch {epoch}; "
                "continue with --resume auto)")

    def _epochs(self, summary: Dict[str, Any]) -> None:
        """Epochs are numbered from 1 everywhere: `epoch` below is how many are done once it ends."""
        for epoch in range(self.start_epoch + 1, self.epochs + 1):
            start = time.time()
            summary["train"] = self.train_epoch(epoch - 1)
            self.epoch_done = epoch
            first = self.train_metrics[0]
            self.log.info("epoch %d done in %.1fs: loss %.4f %s %.4f, bad videos so far %d", epoch,
                          time.time() - start, summary["train"]["loss"], first, summary["train"][first],
                          self.bad_videos())
            self.recorder.record("epoch", epoch, {**summary["train"], "bad_videos": self.bad_videos()})
            scheduled = self.multigrid is not None and self.multigrid.is_eval_epoch(epoch - 1)
            if scheduled:  # the anchors' PreciseBN points: EVAL_FREQ per long-cycle shape, its last epoch among them
                self.precise_bn()
            elif self.multigrid is not None:
                self.multigrid.aggregate(self.model)
            if self.valid_loader is not None and (self._due(epoch, "val_interval") or scheduled):
                summary["valid"] = self.validate(epoch, precise_bn=not scheduled)
                score = float(summary["valid"].get(self.valid_key, 0.0))
                if score > self.best:
                    self.best = score
                    self._save(None)
                    self.log.info("best %s %.4f at epoch %d", self.valid_key, score, epoch)
            if self._due(epoch, "save_interval") or scheduled:
                self._save(epoch)
            barrier(f"end of epoch {epoch}, after rank 0's checkpoint")
            if self.stop is not None and self.stop.requested:  # Ctrl-C during validation or saving
                raise KeyboardInterrupt

    def run(self) -> Dict[str, Any]:
        """Train from `start_epoch` to `epochs`; returns the last epoch's train and validation numbers."""
        summary: Dict[str, Any] = {}
        self.log.info("training %s for %d epochs (%d iters/epoch, batch %d x %d processes, accumulation %d) on %s, "
                      "seed %d", self.model_name, self.epochs, self.iters_per_epoch, self.batch_size, world_size(),
                      self.accum, self.device, self.seed)
        with deferred_interrupt() as self.stop:
            try:
                self._epochs(summary)
            except BaseException as exc:
                if not (self.stop.requested or is_interrupt(exc)):
                    raise
                self.recorder.close()
                raise Interrupted(self._last_checkpoint_line()) from None
        self.recorder.close()
        if self.watchdog is not None:
            self.watchdog.stop()
        summary[f"best_{self.valid_key}"] = self.best
        summary["output"] = str(self.folder)
        return summary


def train_model(cfg: AttrDict, options: Optional[TrainOptions] = None) -> Dict[str, Any]:
    """Train as the config says; returns the last epoch's numbers and the output folder."""
    return Trainer(cfg, options or TrainOptions()).run()
