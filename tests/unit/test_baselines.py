from mtae_core import ExperimentConfig
from mtae_core.analysis.baselines import baseline_config, differences, is_matched_baseline
from mtae_core.config import run_key


def test_baseline_differs_only_in_sharing_weighting_schedule():
    cfg = ExperimentConfig().replace(model={"sharing": "mmoe"}, weighting={"strategy": "pcgrad"},
                                     training={"epochs": 3}, seed=4)
    base = baseline_config(cfg)
    assert base.model.sharing == "single_task"
    assert base.weighting.strategy == "equal" and base.schedule.kind == "joint"
    assert base.training.epochs == 3 and base.seed == 4
    assert is_matched_baseline(base, cfg)
    assert differences(base, cfg, ignore_baseline_free=True) == []


def test_other_epochs_or_seed_is_not_a_match():
    cfg = ExperimentConfig()
    base = baseline_config(cfg)
    assert not is_matched_baseline(base.replace(training={"epochs": 7}), cfg)
    assert not is_matched_baseline(base.replace(seed=9), cfg)
    assert differences(base.replace(seed=9), cfg, ignore_baseline_free=True) == ["seed"]
    assert not is_matched_baseline(cfg, cfg)  # a shared model is no baseline


def test_run_key_ignores_the_name_only():
    cfg = ExperimentConfig()
    assert run_key(cfg) == run_key(cfg.replace(name="other"))
    assert run_key(cfg) != run_key(cfg.replace(seed=1))
