from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
NON_FINITE_POLICY_REJECT: NonFinitePolicy
NON_FINITE_POLICY_SKIP_STEP: NonFinitePolicy
NON_FINITE_POLICY_UNSPECIFIED: NonFinitePolicy

class Adagrad(_message.Message):
    __slots__ = ["eps", "initial_accumulator", "lr", "lr_decay"]
    EPS_FIELD_NUMBER: _ClassVar[int]
    INITIAL_ACCUMULATOR_FIELD_NUMBER: _ClassVar[int]
    LR_DECAY_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    eps: float
    initial_accumulator: float
    lr: float
    lr_decay: float
    def __init__(self, lr: _Optional[float] = ..., eps: _Optional[float] = ..., initial_accumulator: _Optional[float] = ..., lr_decay: _Optional[float] = ...) -> None: ...

class Adam(_message.Message):
    __slots__ = ["amsgrad", "beta1", "beta2", "eps", "lr"]
    AMSGRAD_FIELD_NUMBER: _ClassVar[int]
    BETA1_FIELD_NUMBER: _ClassVar[int]
    BETA2_FIELD_NUMBER: _ClassVar[int]
    EPS_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    amsgrad: bool
    beta1: float
    beta2: float
    eps: float
    lr: float
    def __init__(self, lr: _Optional[float] = ..., beta1: _Optional[float] = ..., beta2: _Optional[float] = ..., eps: _Optional[float] = ..., amsgrad: bool = ...) -> None: ...

class AdamW(_message.Message):
    __slots__ = ["amsgrad", "beta1", "beta2", "eps", "lr"]
    AMSGRAD_FIELD_NUMBER: _ClassVar[int]
    BETA1_FIELD_NUMBER: _ClassVar[int]
    BETA2_FIELD_NUMBER: _ClassVar[int]
    EPS_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    amsgrad: bool
    beta1: float
    beta2: float
    eps: float
    lr: float
    def __init__(self, lr: _Optional[float] = ..., beta1: _Optional[float] = ..., beta2: _Optional[float] = ..., eps: _Optional[float] = ..., amsgrad: bool = ...) -> None: ...

class Clipping(_message.Message):
    __slots__ = ["norm", "value"]
    NORM_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    norm: float
    value: float
    def __init__(self, value: _Optional[float] = ..., norm: _Optional[float] = ...) -> None: ...

class Cosine(_message.Message):
    __slots__ = ["min_lr", "total_steps"]
    MIN_LR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    min_lr: float
    total_steps: int
    def __init__(self, total_steps: _Optional[int] = ..., min_lr: _Optional[float] = ...) -> None: ...

class CosineRestarts(_message.Message):
    __slots__ = ["min_lr", "mult", "period"]
    MIN_LR_FIELD_NUMBER: _ClassVar[int]
    MULT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    min_lr: float
    mult: int
    period: int
    def __init__(self, period: _Optional[int] = ..., mult: _Optional[int] = ..., min_lr: _Optional[float] = ...) -> None: ...

class ExponentialDecay(_message.Message):
    __slots__ = ["gamma"]
    GAMMA_FIELD_NUMBER: _ClassVar[int]
    gamma: float
    def __init__(self, gamma: _Optional[float] = ...) -> None: ...

class Lion(_message.Message):
    __slots__ = ["beta1", "beta2", "lr"]
    BETA1_FIELD_NUMBER: _ClassVar[int]
    BETA2_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    beta1: float
    beta2: float
    lr: float
    def __init__(self, lr: _Optional[float] = ..., beta1: _Optional[float] = ..., beta2: _Optional[float] = ...) -> None: ...

class Momentum(_message.Message):
    __slots__ = ["beta", "dampening", "lr"]
    BETA_FIELD_NUMBER: _ClassVar[int]
    DAMPENING_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    beta: float
    dampening: float
    lr: float
    def __init__(self, lr: _Optional[float] = ..., beta: _Optional[float] = ..., dampening: _Optional[float] = ...) -> None: ...

class Nesterov(_message.Message):
    __slots__ = ["beta", "lr"]
    BETA_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    beta: float
    lr: float
    def __init__(self, lr: _Optional[float] = ..., beta: _Optional[float] = ...) -> None: ...

class OptimizerPipeline(_message.Message):
    __slots__ = ["accumulate", "adagrad", "adam", "adamw", "clipping", "lion", "momentum", "nesterov", "non_finite", "parameter_rules", "rmsprop", "schedule", "sgd", "spec_version", "weight_decay"]
    ACCUMULATE_FIELD_NUMBER: _ClassVar[int]
    ADAGRAD_FIELD_NUMBER: _ClassVar[int]
    ADAMW_FIELD_NUMBER: _ClassVar[int]
    ADAM_FIELD_NUMBER: _ClassVar[int]
    CLIPPING_FIELD_NUMBER: _ClassVar[int]
    LION_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    NESTEROV_FIELD_NUMBER: _ClassVar[int]
    NON_FINITE_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_RULES_FIELD_NUMBER: _ClassVar[int]
    RMSPROP_FIELD_NUMBER: _ClassVar[int]
    SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    SGD_FIELD_NUMBER: _ClassVar[int]
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    accumulate: int
    adagrad: Adagrad
    adam: Adam
    adamw: AdamW
    clipping: Clipping
    lion: Lion
    momentum: Momentum
    nesterov: Nesterov
    non_finite: NonFinitePolicy
    parameter_rules: _containers.RepeatedCompositeFieldContainer[ParameterRule]
    rmsprop: Rmsprop
    schedule: Schedule
    sgd: Sgd
    spec_version: int
    weight_decay: float
    def __init__(self, spec_version: _Optional[int] = ..., sgd: _Optional[_Union[Sgd, _Mapping]] = ..., momentum: _Optional[_Union[Momentum, _Mapping]] = ..., nesterov: _Optional[_Union[Nesterov, _Mapping]] = ..., adagrad: _Optional[_Union[Adagrad, _Mapping]] = ..., rmsprop: _Optional[_Union[Rmsprop, _Mapping]] = ..., adam: _Optional[_Union[Adam, _Mapping]] = ..., adamw: _Optional[_Union[AdamW, _Mapping]] = ..., lion: _Optional[_Union[Lion, _Mapping]] = ..., schedule: _Optional[_Union[Schedule, _Mapping]] = ..., clipping: _Optional[_Union[Clipping, _Mapping]] = ..., weight_decay: _Optional[float] = ..., accumulate: _Optional[int] = ..., non_finite: _Optional[_Union[NonFinitePolicy, str]] = ..., parameter_rules: _Optional[_Iterable[_Union[ParameterRule, _Mapping]]] = ...) -> None: ...

class ParameterRule(_message.Message):
    __slots__ = ["glob", "kind", "lr_scale"]
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    FREEZE: ParameterRule.Kind
    GLOB_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    KIND_UNSPECIFIED: ParameterRule.Kind
    LR_SCALE: ParameterRule.Kind
    LR_SCALE_FIELD_NUMBER: _ClassVar[int]
    NO_DECAY: ParameterRule.Kind
    glob: str
    kind: ParameterRule.Kind
    lr_scale: float
    def __init__(self, kind: _Optional[_Union[ParameterRule.Kind, str]] = ..., glob: _Optional[str] = ..., lr_scale: _Optional[float] = ...) -> None: ...

class Rmsprop(_message.Message):
    __slots__ = ["centered", "eps", "eps_inside_sqrt", "lr", "momentum", "rho"]
    CENTERED_FIELD_NUMBER: _ClassVar[int]
    EPS_FIELD_NUMBER: _ClassVar[int]
    EPS_INSIDE_SQRT_FIELD_NUMBER: _ClassVar[int]
    LR_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    RHO_FIELD_NUMBER: _ClassVar[int]
    centered: bool
    eps: float
    eps_inside_sqrt: bool
    lr: float
    momentum: float
    rho: float
    def __init__(self, lr: _Optional[float] = ..., rho: _Optional[float] = ..., eps: _Optional[float] = ..., momentum: _Optional[float] = ..., centered: bool = ..., eps_inside_sqrt: bool = ...) -> None: ...

class Schedule(_message.Message):
    __slots__ = ["cosine", "cosine_restarts", "exponential_decay", "step_decay", "warmup_steps"]
    COSINE_FIELD_NUMBER: _ClassVar[int]
    COSINE_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    EXPONENTIAL_DECAY_FIELD_NUMBER: _ClassVar[int]
    STEP_DECAY_FIELD_NUMBER: _ClassVar[int]
    WARMUP_STEPS_FIELD_NUMBER: _ClassVar[int]
    cosine: Cosine
    cosine_restarts: CosineRestarts
    exponential_decay: ExponentialDecay
    step_decay: StepDecay
    warmup_steps: int
    def __init__(self, warmup_steps: _Optional[int] = ..., cosine: _Optional[_Union[Cosine, _Mapping]] = ..., step_decay: _Optional[_Union[StepDecay, _Mapping]] = ..., exponential_decay: _Optional[_Union[ExponentialDecay, _Mapping]] = ..., cosine_restarts: _Optional[_Union[CosineRestarts, _Mapping]] = ...) -> None: ...

class Sgd(_message.Message):
    __slots__ = ["lr"]
    LR_FIELD_NUMBER: _ClassVar[int]
    lr: float
    def __init__(self, lr: _Optional[float] = ...) -> None: ...

class StepDecay(_message.Message):
    __slots__ = ["every", "gamma"]
    EVERY_FIELD_NUMBER: _ClassVar[int]
    GAMMA_FIELD_NUMBER: _ClassVar[int]
    every: int
    gamma: float
    def __init__(self, every: _Optional[int] = ..., gamma: _Optional[float] = ...) -> None: ...

class NonFinitePolicy(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
