from google.protobuf import empty_pb2 as _empty_pb2
from shardopt.v1 import pipeline_pb2 as _pipeline_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

ASYNC: TrainingMode
DESCRIPTOR: _descriptor.FileDescriptor
FAILED: ModelState
LOADING: ModelState
MODEL_STATE_UNSPECIFIED: ModelState
READY: ModelState
SYNC: TrainingMode
TRAINING_MODE_UNSPECIFIED: TrainingMode

class Checkpoint(_message.Message):
    __slots__ = ["bytes", "model", "next_push", "path", "snapshot_millis", "step", "total_millis"]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PUSH_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_MILLIS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MILLIS_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    model: str
    next_push: _containers.RepeatedScalarFieldContainer[int]
    path: str
    snapshot_millis: float
    step: int
    total_millis: float
    def __init__(self, model: _Optional[str] = ..., step: _Optional[int] = ..., path: _Optional[str] = ..., bytes: _Optional[int] = ..., snapshot_millis: _Optional[float] = ..., total_millis: _Optional[float] = ..., next_push: _Optional[_Iterable[int]] = ...) -> None: ...

class CheckpointModelRequest(_message.Message):
    __slots__ = ["at_step", "directory", "name"]
    AT_STEP_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    at_step: int
    directory: str
    name: str
    def __init__(self, name: _Optional[str] = ..., directory: _Optional[str] = ..., at_step: _Optional[int] = ...) -> None: ...

class CheckpointRange(_message.Message):
    __slots__ = ["crc32c", "length", "offset", "path"]
    CRC32C_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    crc32c: int
    length: int
    offset: int
    path: str
    def __init__(self, path: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., crc32c: _Optional[int] = ...) -> None: ...

class ClusterStatus(_message.Message):
    __slots__ = ["models", "workers"]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    workers: _containers.RepeatedCompositeFieldContainer[WorkerStatus]
    def __init__(self, workers: _Optional[_Iterable[_Union[WorkerStatus, _Mapping]]] = ..., models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...

class CommitCopyRequest(_message.Message):
    __slots__ = ["abort", "epoch", "model", "step"]
    ABORT_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    abort: bool
    epoch: int
    model: str
    step: int
    def __init__(self, model: _Optional[str] = ..., step: _Optional[int] = ..., epoch: _Optional[int] = ..., abort: bool = ...) -> None: ...

class CopyShardsRequest(_message.Message):
    __slots__ = ["model", "shards", "step"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    model: str
    shards: _containers.RepeatedCompositeFieldContainer[ShardStart]
    step: int
    def __init__(self, model: _Optional[str] = ..., step: _Optional[int] = ..., shards: _Optional[_Iterable[_Union[ShardStart, _Mapping]]] = ...) -> None: ...

class CopyShardsResponse(_message.Message):
    __slots__ = ["chunk", "step", "steps_skipped", "updates_applied"]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    STEPS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    UPDATES_APPLIED_FIELD_NUMBER: _ClassVar[int]
    chunk: TensorChunk
    step: int
    steps_skipped: int
    updates_applied: int
    def __init__(self, step: _Optional[int] = ..., updates_applied: _Optional[int] = ..., steps_skipped: _Optional[int] = ..., chunk: _Optional[_Union[TensorChunk, _Mapping]] = ...) -> None: ...

class CreateModelRequest(_message.Message):
    __slots__ = ["model", "model_id", "restore_from"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    RESTORE_FROM_FIELD_NUMBER: _ClassVar[int]
    model: Model
    model_id: str
    restore_from: str
    def __init__(self, model_id: _Optional[str] = ..., model: _Optional[_Union[Model, _Mapping]] = ..., restore_from: _Optional[str] = ...) -> None: ...

class CreateShardsRequest(_message.Message):
    __slots__ = ["copy_of", "model", "restore", "shards"]
    COPY_OF_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RESTORE_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    copy_of: RestoreSpec
    model: Model
    restore: RestoreSpec
    shards: _containers.RepeatedCompositeFieldContainer[Shard]
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ..., shards: _Optional[_Iterable[_Union[Shard, _Mapping]]] = ..., restore: _Optional[_Union[RestoreSpec, _Mapping]] = ..., copy_of: _Optional[_Union[RestoreSpec, _Mapping]] = ...) -> None: ...

class CreateShardsResponse(_message.Message):
    __slots__ = ["restored"]
    RESTORED_FIELD_NUMBER: _ClassVar[int]
    restored: _containers.RepeatedCompositeFieldContainer[CheckpointRange]
    def __init__(self, restored: _Optional[_Iterable[_Union[CheckpointRange, _Mapping]]] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeviceStatus(_message.Message):
    __slots__ = ["free_bytes", "kind", "name", "total_bytes", "used_by_shards_bytes"]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    USED_BY_SHARDS_BYTES_FIELD_NUMBER: _ClassVar[int]
    free_bytes: int
    kind: str
    name: str
    total_bytes: int
    used_by_shards_bytes: int
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., total_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., used_by_shards_bytes: _Optional[int] = ...) -> None: ...

class DropModelRequest(_message.Message):
    __slots__ = ["model"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class FencedModel(_message.Message):
    __slots__ = ["model", "reason"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    model: str
    reason: str
    def __init__(self, model: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetMetricsRequest(_message.Message):
    __slots__ = ["from_step", "name"]
    FROM_STEP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    from_step: int
    name: str
    def __init__(self, name: _Optional[str] = ..., from_step: _Optional[int] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetPipelineScheduleRequest(_message.Message):
    __slots__ = ["name", "through_step"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    THROUGH_STEP_FIELD_NUMBER: _ClassVar[int]
    name: str
    through_step: int
    def __init__(self, name: _Optional[str] = ..., through_step: _Optional[int] = ...) -> None: ...

class GetProgressRequest(_message.Message):
    __slots__ = ["model"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class GetShardMapRequest(_message.Message):
    __slots__ = ["name"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class HeartbeatRequest(_message.Message):
    __slots__ = ["bytes_in", "bytes_out", "device", "models", "worker"]
    BYTES_IN_FIELD_NUMBER: _ClassVar[int]
    BYTES_OUT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    bytes_in: int
    bytes_out: int
    device: DeviceStatus
    models: _containers.RepeatedCompositeFieldContainer[ModelProgress]
    worker: str
    def __init__(self, worker: _Optional[str] = ..., bytes_in: _Optional[int] = ..., bytes_out: _Optional[int] = ..., models: _Optional[_Iterable[_Union[ModelProgress, _Mapping]]] = ..., device: _Optional[_Union[DeviceStatus, _Mapping]] = ...) -> None: ...

class HeartbeatResponse(_message.Message):
    __slots__ = ["fenced"]
    FENCED_FIELD_NUMBER: _ClassVar[int]
    fenced: _containers.RepeatedCompositeFieldContainer[FencedModel]
    def __init__(self, fenced: _Optional[_Iterable[_Union[FencedModel, _Mapping]]] = ...) -> None: ...

class HoldPushesRequest(_message.Message):
    __slots__ = ["model", "release"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    model: str
    release: bool
    def __init__(self, model: _Optional[str] = ..., release: bool = ...) -> None: ...

class HoldPushesResponse(_message.Message):
    __slots__ = ["next_push"]
    NEXT_PUSH_FIELD_NUMBER: _ClassVar[int]
    next_push: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, next_push: _Optional[_Iterable[int]] = ...) -> None: ...

class Initializer(_message.Message):
    __slots__ = ["constant", "normal", "uniform", "upload", "zeros"]
    class Constant(_message.Message):
        __slots__ = ["value"]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        value: float
        def __init__(self, value: _Optional[float] = ...) -> None: ...
    class Normal(_message.Message):
        __slots__ = ["mean", "seed", "std"]
        MEAN_FIELD_NUMBER: _ClassVar[int]
        SEED_FIELD_NUMBER: _ClassVar[int]
        STD_FIELD_NUMBER: _ClassVar[int]
        mean: float
        seed: int
        std: float
        def __init__(self, mean: _Optional[float] = ..., std: _Optional[float] = ..., seed: _Optional[int] = ...) -> None: ...
    class Uniform(_message.Message):
        __slots__ = ["high", "low", "seed"]
        HIGH_FIELD_NUMBER: _ClassVar[int]
        LOW_FIELD_NUMBER: _ClassVar[int]
        SEED_FIELD_NUMBER: _ClassVar[int]
        high: float
        low: float
        seed: int
        def __init__(self, low: _Optional[float] = ..., high: _Optional[float] = ..., seed: _Optional[int] = ...) -> None: ...
    class Upload(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    class Zeros(_message.Message):
        __slots__ = []
        def __init__(self) -> None: ...
    CONSTANT_FIELD_NUMBER: _ClassVar[int]
    NORMAL_FIELD_NUMBER: _ClassVar[int]
    UNIFORM_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_FIELD_NUMBER: _ClassVar[int]
    ZEROS_FIELD_NUMBER: _ClassVar[int]
    constant: Initializer.Constant
    normal: Initializer.Normal
    uniform: Initializer.Uniform
    upload: Initializer.Upload
    zeros: Initializer.Zeros
    def __init__(self, zeros: _Optional[_Union[Initializer.Zeros, _Mapping]] = ..., constant: _Optional[_Union[Initializer.Constant, _Mapping]] = ..., normal: _Optional[_Union[Initializer.Normal, _Mapping]] = ..., uniform: _Optional[_Union[Initializer.Uniform, _Mapping]] = ..., upload: _Optional[_Union[Initializer.Upload, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ["models"]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ["duplicates", "failure", "mode", "name", "next_push", "pipeline", "pipeline_schedule", "pipeline_text", "pushes", "replicas", "replication", "staleness", "state", "step", "steps_skipped", "tensors", "trainers", "updates_applied"]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NEXT_PUSH_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_TEXT_FIELD_NUMBER: _ClassVar[int]
    PUSHES_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_FIELD_NUMBER: _ClassVar[int]
    STALENESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEPS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    TRAINERS_FIELD_NUMBER: _ClassVar[int]
    UPDATES_APPLIED_FIELD_NUMBER: _ClassVar[int]
    duplicates: int
    failure: str
    mode: TrainingMode
    name: str
    next_push: _containers.RepeatedScalarFieldContainer[int]
    pipeline: _pipeline_pb2.OptimizerPipeline
    pipeline_schedule: _containers.RepeatedCompositeFieldContainer[PipelineGeneration]
    pipeline_text: str
    pushes: int
    replicas: int
    replication: ReplicationStatus
    staleness: int
    state: ModelState
    step: int
    steps_skipped: int
    tensors: _containers.RepeatedCompositeFieldContainer[TensorSpec]
    trainers: int
    updates_applied: int
    def __init__(self, name: _Optional[str] = ..., pipeline: _Optional[_Union[_pipeline_pb2.OptimizerPipeline, _Mapping]] = ..., tensors: _Optional[_Iterable[_Union[TensorSpec, _Mapping]]] = ..., trainers: _Optional[int] = ..., mode: _Optional[_Union[TrainingMode, str]] = ..., staleness: _Optional[int] = ..., replicas: _Optional[int] = ..., replication: _Optional[_Union[ReplicationStatus, _Mapping]] = ..., state: _Optional[_Union[ModelState, str]] = ..., step: _Optional[int] = ..., pipeline_text: _Optional[str] = ..., failure: _Optional[str] = ..., updates_applied: _Optional[int] = ..., steps_skipped: _Optional[int] = ..., pushes: _Optional[int] = ..., duplicates: _Optional[int] = ..., pipeline_schedule: _Optional[_Iterable[_Union[PipelineGeneration, _Mapping]]] = ..., next_push: _Optional[_Iterable[int]] = ...) -> None: ...

class ModelMetrics(_message.Message):
    __slots__ = ["model", "steps", "steps_skipped"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    STEPS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    model: str
    steps: _containers.RepeatedCompositeFieldContainer[StepMetrics]
    steps_skipped: int
    def __init__(self, model: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[StepMetrics, _Mapping]]] = ..., steps_skipped: _Optional[int] = ...) -> None: ...

class ModelProgress(_message.Message):
    __slots__ = ["duplicates", "model", "next_push", "pushes", "step", "steps_skipped", "updates_applied"]
    DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PUSH_FIELD_NUMBER: _ClassVar[int]
    PUSHES_FIELD_NUMBER: _ClassVar[int]
    STEPS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    UPDATES_APPLIED_FIELD_NUMBER: _ClassVar[int]
    duplicates: int
    model: str
    next_push: _containers.RepeatedScalarFieldContainer[int]
    pushes: int
    step: int
    steps_skipped: int
    updates_applied: int
    def __init__(self, model: _Optional[str] = ..., step: _Optional[int] = ..., updates_applied: _Optional[int] = ..., steps_skipped: _Optional[int] = ..., pushes: _Optional[int] = ..., duplicates: _Optional[int] = ..., next_push: _Optional[_Iterable[int]] = ...) -> None: ...

class ParsePipelineRequest(_message.Message):
    __slots__ = ["pipeline", "pipeline_text", "tensor_names"]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_TEXT_FIELD_NUMBER: _ClassVar[int]
    TENSOR_NAMES_FIELD_NUMBER: _ClassVar[int]
    pipeline: _pipeline_pb2.OptimizerPipeline
    pipeline_text: str
    tensor_names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pipeline_text: _Optional[str] = ..., pipeline: _Optional[_Union[_pipeline_pb2.OptimizerPipeline, _Mapping]] = ..., tensor_names: _Optional[_Iterable[str]] = ...) -> None: ...

class ParsePipelineResponse(_message.Message):
    __slots__ = ["canonical_text", "errors", "pipeline"]
    CANONICAL_TEXT_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    canonical_text: str
    errors: _containers.RepeatedCompositeFieldContainer[PipelineError]
    pipeline: _pipeline_pb2.OptimizerPipeline
    def __init__(self, errors: _Optional[_Iterable[_Union[PipelineError, _Mapping]]] = ..., canonical_text: _Optional[str] = ..., pipeline: _Optional[_Union[_pipeline_pb2.OptimizerPipeline, _Mapping]] = ...) -> None: ...

class PersistShardsRequest(_message.Message):
    __slots__ = ["model", "path", "step"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    model: str
    path: str
    step: int
    def __init__(self, model: _Optional[str] = ..., step: _Optional[int] = ..., path: _Optional[str] = ...) -> None: ...

class PersistShardsResponse(_message.Message):
    __slots__ = ["ranges"]
    RANGES_FIELD_NUMBER: _ClassVar[int]
    ranges: _containers.RepeatedCompositeFieldContainer[CheckpointRange]
    def __init__(self, ranges: _Optional[_Iterable[_Union[CheckpointRange, _Mapping]]] = ...) -> None: ...

class PipelineError(_message.Message):
    __slots__ = ["column", "field", "message"]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    column: int
    field: str
    message: str
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ..., column: _Optional[int] = ...) -> None: ...

class PipelineGeneration(_message.Message):
    __slots__ = ["from_step", "generation", "pipeline"]
    FROM_STEP_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    from_step: int
    generation: int
    pipeline: _pipeline_pb2.OptimizerPipeline
    def __init__(self, generation: _Optional[int] = ..., from_step: _Optional[int] = ..., pipeline: _Optional[_Union[_pipeline_pb2.OptimizerPipeline, _Mapping]] = ...) -> None: ...

class PipelineSchedule(_message.Message):
    __slots__ = ["fixed_through", "generations"]
    FIXED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    GENERATIONS_FIELD_NUMBER: _ClassVar[int]
    fixed_through: int
    generations: _containers.RepeatedCompositeFieldContainer[PipelineGeneration]
    def __init__(self, generations: _Optional[_Iterable[_Union[PipelineGeneration, _Mapping]]] = ..., fixed_through: _Optional[int] = ...) -> None: ...

class PullRequest(_message.Message):
    __slots__ = ["min_step", "model", "shards", "tensors"]
    MIN_STEP_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    TENSORS_FIELD_NUMBER: _ClassVar[int]
    min_step: int
    model: str
    shards: _containers.RepeatedCompositeFieldContainer[ShardStart]
    tensors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model: _Optional[str] = ..., min_step: _Optional[int] = ..., tensors: _Optional[_Iterable[str]] = ..., shards: _Optional[_Iterable[_Union[ShardStart, _Mapping]]] = ...) -> None: ...

class PullResponse(_message.Message):
    __slots__ = ["chunk", "step"]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    chunk: TensorChunk
    step: int
    def __init__(self, step: _Optional[int] = ..., chunk: _Optional[_Union[TensorChunk, _Mapping]] = ...) -> None: ...

class PushHeader(_message.Message):
    __slots__ = ["epoch", "gradient_norm_squared", "model", "non_finite", "pipeline_generation", "step", "trainer"]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_NORM_SQUARED_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NON_FINITE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_GENERATION_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TRAINER_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    gradient_norm_squared: float
    model: str
    non_finite: bool
    pipeline_generation: int
    step: int
    trainer: int
    def __init__(self, model: _Optional[str] = ..., trainer: _Optional[int] = ..., step: _Optional[int] = ..., gradient_norm_squared: _Optional[float] = ..., non_finite: bool = ..., pipeline_generation: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class PushRequest(_message.Message):
    __slots__ = ["chunk", "header"]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    chunk: TensorChunk
    header: PushHeader
    def __init__(self, header: _Optional[_Union[PushHeader, _Mapping]] = ..., chunk: _Optional[_Union[TensorChunk, _Mapping]] = ...) -> None: ...

class PushResponse(_message.Message):
    __slots__ = ["duplicate", "model_step", "step"]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_STEP_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    duplicate: bool
    model_step: int
    step: int
    def __init__(self, step: _Optional[int] = ..., duplicate: bool = ..., model_step: _Optional[int] = ...) -> None: ...

class RegisterWorkerRequest(_message.Message):
    __slots__ = ["address", "device"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    address: str
    device: DeviceStatus
    def __init__(self, address: _Optional[str] = ..., device: _Optional[_Union[DeviceStatus, _Mapping]] = ...) -> None: ...

class RegisterWorkerResponse(_message.Message):
    __slots__ = ["heartbeat_interval_ms", "name"]
    HEARTBEAT_INTERVAL_MS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    heartbeat_interval_ms: int
    name: str
    def __init__(self, name: _Optional[str] = ..., heartbeat_interval_ms: _Optional[int] = ...) -> None: ...

class ReplicationStatus(_message.Message):
    __slots__ = ["copies_made", "copying_shards", "epoch", "lost_workers", "min_live_copies", "replicas", "shards", "under_replicated_shards"]
    COPIES_MADE_FIELD_NUMBER: _ClassVar[int]
    COPYING_SHARDS_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    LOST_WORKERS_FIELD_NUMBER: _ClassVar[int]
    MIN_LIVE_COPIES_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    UNDER_REPLICATED_SHARDS_FIELD_NUMBER: _ClassVar[int]
    copies_made: int
    copying_shards: int
    epoch: int
    lost_workers: _containers.RepeatedScalarFieldContainer[str]
    min_live_copies: int
    replicas: int
    shards: int
    under_replicated_shards: int
    def __init__(self, replicas: _Optional[int] = ..., epoch: _Optional[int] = ..., min_live_copies: _Optional[int] = ..., under_replicated_shards: _Optional[int] = ..., lost_workers: _Optional[_Iterable[str]] = ..., copying_shards: _Optional[int] = ..., shards: _Optional[int] = ..., copies_made: _Optional[int] = ...) -> None: ...

class ReportLoadedRequest(_message.Message):
    __slots__ = ["model", "worker"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    model: str
    worker: str
    def __init__(self, model: _Optional[str] = ..., worker: _Optional[str] = ...) -> None: ...

class ReportStepRequest(_message.Message):
    __slots__ = ["generation", "model", "shards", "step", "worker"]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    generation: int
    model: str
    shards: _containers.RepeatedCompositeFieldContainer[ShardStatistics]
    step: int
    worker: str
    def __init__(self, model: _Optional[str] = ..., worker: _Optional[str] = ..., step: _Optional[int] = ..., shards: _Optional[_Iterable[_Union[ShardStatistics, _Mapping]]] = ..., generation: _Optional[int] = ...) -> None: ...

class RestoreSpec(_message.Message):
    __slots__ = ["next_push", "path", "step", "steps_skipped", "updates_applied"]
    NEXT_PUSH_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STEPS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    UPDATES_APPLIED_FIELD_NUMBER: _ClassVar[int]
    next_push: _containers.RepeatedScalarFieldContainer[int]
    path: str
    step: int
    steps_skipped: int
    updates_applied: int
    def __init__(self, path: _Optional[str] = ..., step: _Optional[int] = ..., updates_applied: _Optional[int] = ..., steps_skipped: _Optional[int] = ..., next_push: _Optional[_Iterable[int]] = ...) -> None: ...

class Shard(_message.Message):
    __slots__ = ["address", "length", "offset", "replica", "tensor", "tensor_index", "worker"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    REPLICA_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    TENSOR_INDEX_FIELD_NUMBER: _ClassVar[int]
    WORKER_FIELD_NUMBER: _ClassVar[int]
    address: str
    length: int
    offset: int
    replica: int
    tensor: str
    tensor_index: int
    worker: str
    def __init__(self, tensor: _Optional[str] = ..., tensor_index: _Optional[int] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ..., worker: _Optional[str] = ..., address: _Optional[str] = ..., replica: _Optional[int] = ...) -> None: ...

class ShardMap(_message.Message):
    __slots__ = ["block_size", "epoch", "model", "shards"]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    block_size: int
    epoch: int
    model: str
    shards: _containers.RepeatedCompositeFieldContainer[Shard]
    def __init__(self, model: _Optional[str] = ..., shards: _Optional[_Iterable[_Union[Shard, _Mapping]]] = ..., block_size: _Optional[int] = ..., epoch: _Optional[int] = ...) -> None: ...

class ShardStart(_message.Message):
    __slots__ = ["offset", "tensor_index"]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TENSOR_INDEX_FIELD_NUMBER: _ClassVar[int]
    offset: int
    tensor_index: int
    def __init__(self, tensor_index: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class ShardStatistics(_message.Message):
    __slots__ = ["block_sums", "first_block", "first_non_finite", "tensor_index"]
    BLOCK_SUMS_FIELD_NUMBER: _ClassVar[int]
    FIRST_BLOCK_FIELD_NUMBER: _ClassVar[int]
    FIRST_NON_FINITE_FIELD_NUMBER: _ClassVar[int]
    TENSOR_INDEX_FIELD_NUMBER: _ClassVar[int]
    block_sums: _containers.RepeatedScalarFieldContainer[float]
    first_block: int
    first_non_finite: int
    tensor_index: int
    def __init__(self, tensor_index: _Optional[int] = ..., first_block: _Optional[int] = ..., block_sums: _Optional[_Iterable[float]] = ..., first_non_finite: _Optional[int] = ...) -> None: ...

class SnapshotShardsRequest(_message.Message):
    __slots__ = ["model", "next_push", "path", "step"]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PUSH_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    model: str
    next_push: _containers.RepeatedScalarFieldContainer[int]
    path: str
    step: int
    def __init__(self, model: _Optional[str] = ..., step: _Optional[int] = ..., next_push: _Optional[_Iterable[int]] = ..., path: _Optional[str] = ...) -> None: ...

class SnapshotShardsResponse(_message.Message):
    __slots__ = ["bytes", "steps_skipped", "updates_applied"]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    STEPS_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    UPDATES_APPLIED_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    steps_skipped: int
    updates_applied: int
    def __init__(self, bytes: _Optional[int] = ..., updates_applied: _Optional[int] = ..., steps_skipped: _Optional[int] = ...) -> None: ...

class StepDecision(_message.Message):
    __slots__ = ["action", "clip_scale", "fixed_through", "generation", "gradient_norm", "latest_generation", "learning_rate", "step", "update"]
    class Action(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = []
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_UNSPECIFIED: StepDecision.Action
    APPLY: StepDecision.Action
    CLIP_SCALE_FIELD_NUMBER: _ClassVar[int]
    FIXED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_NORM_FIELD_NUMBER: _ClassVar[int]
    LATEST_GENERATION_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    SKIP: StepDecision.Action
    STEP_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    action: StepDecision.Action
    clip_scale: float
    fixed_through: int
    generation: int
    gradient_norm: float
    latest_generation: int
    learning_rate: float
    step: int
    update: int
    def __init__(self, action: _Optional[_Union[StepDecision.Action, str]] = ..., step: _Optional[int] = ..., update: _Optional[int] = ..., learning_rate: _Optional[float] = ..., clip_scale: _Optional[float] = ..., gradient_norm: _Optional[float] = ..., generation: _Optional[int] = ..., fixed_through: _Optional[int] = ..., latest_generation: _Optional[int] = ...) -> None: ...

class StepMetrics(_message.Message):
    __slots__ = ["barrier_wait_millis", "clipped_norm", "generation", "gradient_norm", "learning_rate", "skipped", "step", "update"]
    BARRIER_WAIT_MILLIS_FIELD_NUMBER: _ClassVar[int]
    CLIPPED_NORM_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_NORM_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    barrier_wait_millis: float
    clipped_norm: float
    generation: int
    gradient_norm: float
    learning_rate: float
    skipped: bool
    step: int
    update: int
    def __init__(self, step: _Optional[int] = ..., update: _Optional[int] = ..., skipped: bool = ..., learning_rate: _Optional[float] = ..., gradient_norm: _Optional[float] = ..., clipped_norm: _Optional[float] = ..., barrier_wait_millis: _Optional[float] = ..., generation: _Optional[int] = ...) -> None: ...

class TensorChunk(_message.Message):
    __slots__ = ["data", "model", "offset", "slot", "tensor"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SLOT_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    model: str
    offset: int
    slot: str
    tensor: str
    def __init__(self, model: _Optional[str] = ..., tensor: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., slot: _Optional[str] = ...) -> None: ...

class TensorSpec(_message.Message):
    __slots__ = ["init", "name", "shape"]
    INIT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    init: Initializer
    name: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, name: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., init: _Optional[_Union[Initializer, _Mapping]] = ...) -> None: ...

class UpdatePipelineRequest(_message.Message):
    __slots__ = ["at_step", "name", "pipeline", "pipeline_text"]
    AT_STEP_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_TEXT_FIELD_NUMBER: _ClassVar[int]
    at_step: int
    name: str
    pipeline: _pipeline_pb2.OptimizerPipeline
    pipeline_text: str
    def __init__(self, name: _Optional[str] = ..., pipeline: _Optional[_Union[_pipeline_pb2.OptimizerPipeline, _Mapping]] = ..., pipeline_text: _Optional[str] = ..., at_step: _Optional[int] = ...) -> None: ...

class WorkerStatus(_message.Message):
    __slots__ = ["address", "bytes_in", "bytes_out", "device", "healthy", "millis_since_heartbeat", "name", "shards"]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    BYTES_IN_FIELD_NUMBER: _ClassVar[int]
    BYTES_OUT_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    HEALTHY_FIELD_NUMBER: _ClassVar[int]
    MILLIS_SINCE_HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    address: str
    bytes_in: int
    bytes_out: int
    device: DeviceStatus
    healthy: bool
    millis_since_heartbeat: int
    name: str
    shards: int
    def __init__(self, name: _Optional[str] = ..., address: _Optional[str] = ..., healthy: bool = ..., millis_since_heartbeat: _Optional[int] = ..., bytes_in: _Optional[int] = ..., bytes_out: _Optional[int] = ..., shards: _Optional[int] = ..., device: _Optional[_Union[DeviceStatus, _Mapping]] = ...) -> None: ...

class WriteParametersResponse(_message.Message):
    __slots__ = ["elements"]
    ELEMENTS_FIELD_NUMBER: _ClassVar[int]
    elements: int
    def __init__(self, elements: _Optional[int] = ...) -> None: ...

class TrainingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ModelState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
