import pytest

from ttjax._config import Hyperparams, Loss, Optimizer
from ttjax._errors import ConfigError


def test_effective_lr_and_batch_resolution():
    hp = Hyperparams(optimizer=Optimizer.SGD, lr=0.02, momentum=0.5, batch_size=10, steps=5)
    assert hp.effective_lr == pytest.approx(0.04)
    assert hp.resolved_batch_size(100) == 10
    assert Hyperparams(lr=0.1).resolved_batch_size(37) == 37  # GD: the whole set
    assert hp.to_dict()["optimizer"] == "sgd"
    assert Hyperparams(loss=Loss.MSE).to_dict()["loss"] == "mse"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": -1.0}, "learning rate"),
        ({"lr": float("nan")}, "learning rate"),
        ({"momentum": 1.0}, "momentum"),
        ({"steps": 0}, "steps"),
        ({"optimizer": Optimizer.SGD}, "batch size"),
    ],
)
def test_bad_values_are_clear_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Hyperparams(**kwargs)


def test_batch_larger_than_dataset():
    hp = Hyperparams(optimizer=Optimizer.SGD, batch_size=64)
    with pytest.raises(ConfigError, match="larger than the training set"):
        hp.resolved_batch_size(50)
