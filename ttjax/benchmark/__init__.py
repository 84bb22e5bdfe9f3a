"""Predicted vs real training time on a grid of tasks (resumable JSON-lines) and summaries.

Public API: :func:`run_benchmark`, :func:`summarize`, :func:`benchmark_grid`, the case types, the
JSON-lines helpers and record statuses, the tune/held-out split, and the offline pretraining used
for the ``small_cnn`` source model.
"""

from ._backbone_summary import BackboneRow as BackboneRow
from ._backbone_summary import converged_real as converged_real
from ._backbone_summary import plateaued as plateaued
from ._backbone_summary import record_momentum as record_momentum
from ._band import BandScore as BandScore
from ._band import band_coverage as band_coverage
from ._band import band_pairs as band_pairs
from ._band import calibrate_band as calibrate_band
from ._band import loco_band_coverage as loco_band_coverage
from ._band import loco_with_band as loco_with_band
from ._band import with_band as with_band
from ._case import PAPER_EPS as PAPER_EPS
from ._case import BenchmarkCase as BenchmarkCase
from ._case import LrRegime as LrRegime
from ._case import TaskSpec as TaskSpec
from ._case import case_key as case_key
from ._closed_loop import OBSERVE_STEPS as OBSERVE_STEPS
from ._closed_loop import alignment_name as alignment_name
from ._closed_loop import closed_loop_variants as closed_loop_variants
from ._closed_loop import evaluate_closed_loop as evaluate_closed_loop
from ._closed_loop import restarted_curves as restarted_curves
from ._cost import format_cost as format_cost
from ._grid import GridPreset as GridPreset
from ._grid import benchmark_grid as benchmark_grid
from ._grid_v2 import FMNIST_TARGET as FMNIST_TARGET
from ._grid_v2 import V2_BACKBONES as V2_BACKBONES
from ._head_bilinear import REFERENCE_MODELS as REFERENCE_MODELS
from ._head_bilinear import converged_references as converged_references
from ._head_bilinear import evaluate_head_bilinear as evaluate_head_bilinear
from ._head_bilinear import loss_level_rows as loss_level_rows
from ._noise_floor import evaluate_noise_floor as evaluate_noise_floor
from ._noise_floor import noise_floor as noise_floor
from ._noise_floor import noise_floor_rows as noise_floor_rows
from ._noise_floor import noise_model_rows as noise_model_rows
from ._noise_floor import noise_model_variants as noise_model_variants
from ._pretrain import SMALL_CNN_FMNIST as SMALL_CNN_FMNIST
from ._pretrain import PretrainOptimizer as PretrainOptimizer
from ._pretrain import PretrainResult as PretrainResult
from ._pretrain import cache_dir as cache_dir
from ._pretrain import pretrain as pretrain
from ._pretrain import resolve_weights as resolve_weights
from ._pretrain import source_subset as source_subset
from ._relinearise import relinearised_variants as relinearised_variants
from ._relinearise import variant_name as variant_name
from ._relinearise import with_relinearised as with_relinearised
from ._report import ALL_RUNS as ALL_RUNS
from ._report import HEAVY_BALL as HEAVY_BALL
from ._report import MOMENTUM_0 as MOMENTUM_0
from ._report import MOMENTUM_GROUPS as MOMENTUM_GROUPS
from ._report import check_script_paths as check_script_paths
from ._report import format_variant_row as format_variant_row
from ._report import momentum_group as momentum_group
from ._report import momentum_rows as momentum_rows
from ._report import write_table as write_table
from ._run import PreparedCase as PreparedCase
from ._run import build_model as build_model
from ._run import build_task as build_task
from ._run import case_prng as case_prng
from ._run import evaluate_case as evaluate_case
from ._run import prepare_case as prepare_case
from ._run import run_benchmark as run_benchmark
from ._select import add_selection_flags as add_selection_flags
from ._select import select_cases as select_cases
from ._select import selected_cases as selected_cases
from ._split import Split as Split
from ._split import case_split as case_split
from ._store import CaseStatus as CaseStatus
from ._store import append_record as append_record
from ._store import check_run_seed as check_run_seed
from ._store import completed_keys as completed_keys
from ._store import latest_records as latest_records
from ._store import read_records as read_records
from ._store import resolved_hparams as resolved_hparams
from ._store import reusable_runs as reusable_runs
from ._summary import BenchmarkSummary as BenchmarkSummary
from ._summary import ErrorRow as ErrorRow
from ._summary import check_variant as check_variant
from ._summary import format_summary as format_summary
from ._summary import summarize as summarize
from ._summary import variant_rows as variant_rows
from ._summary import with_variant as with_variant

__all__ = [
    "ALL_RUNS",
    "FMNIST_TARGET",
    "HEAVY_BALL",
    "MOMENTUM_0",
    "MOMENTUM_GROUPS",
    "OBSERVE_STEPS",
    "PAPER_EPS",
    "REFERENCE_MODELS",
    "SMALL_CNN_FMNIST",
    "V2_BACKBONES",
    "BackboneRow",
    "BandScore",
    "BenchmarkCase",
    "BenchmarkSummary",
    "CaseStatus",
    "ErrorRow",
    "GridPreset",
    "LrRegime",
    "PreparedCase",
    "PretrainOptimizer",
    "PretrainResult",
    "Split",
    "TaskSpec",
    "add_selection_flags",
    "alignment_name",
    "append_record",
    "band_coverage",
    "band_pairs",
    "benchmark_grid",
    "build_model",
    "build_task",
    "cache_dir",
    "calibrate_band",
    "case_key",
    "case_prng",
    "case_split",
    "check_run_seed",
    "check_script_paths",
    "check_variant",
    "closed_loop_variants",
    "completed_keys",
    "converged_real",
    "converged_references",
    "evaluate_case",
    "evaluate_closed_loop",
    "evaluate_head_bilinear",
    "evaluate_noise_floor",
    "format_cost",
    "format_summary",
    "format_variant_row",
    "latest_records",
    "loco_band_coverage",
    "loco_with_band",
    "loss_level_rows",
    "momentum_group",
    "momentum_rows",
    "noise_floor",
    "noise_floor_rows",
    "noise_model_rows",
    "noise_model_variants",
    "plateaued",
    "prepare_case",
    "pretrain",
    "read_records",
    "record_momentum",
    "relinearised_variants",
    "resolve_weights",
    "resolved_hparams",
    "restarted_curves",
    "reusable_runs",
    "run_benchmark",
    "select_cases",
    "selected_cases",
    "source_subset",
    "summarize",
    "variant_name",
    "variant_rows",
    "with_band",
    "with_relinearised",
    "with_variant",
    "write_table",
]
