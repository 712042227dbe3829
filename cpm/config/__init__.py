"""Typed run configuration: the dataclasses (`schema`, every key documented next to its default), loading
from YAML with `base:` inheritance and `--set` overrides (`load`), and the value checks (`checks`)."""
from cpm.config.checks import validate
from cpm.config.load import apply_overrides, config_from_dict, load_config, parse_override
from cpm.config.schema import (AugmentConfig, Config, DataConfig, EvalConfig, LoggingConfig, LossConfig, ModelConfig,
                               OptimConfig, ScheduleConfig, SyntheticConfig, TrainConfig)

__all__ = ["AugmentConfig", "Config", "DataConfig", "EvalConfig", "LoggingConfig", "LossConfig", "ModelConfig",
           "OptimConfig", "ScheduleConfig", "SyntheticConfig", "TrainConfig", "apply_overrides", "config_from_dict",
           "load_config", "parse_override", "validate"]
