// Type declarations of the shardopt package (index.js). Tensors are Float32Arrays, flattened in
// row-major order; every call that talks to the cluster returns a Promise.

/** gRPC status codes, as @grpc/grpc-js's `status`. */
export declare const status: {
  readonly OK: 0; readonly CANCELLED: 1; readonly UNKNOWN: 2; readonly INVALID_ARGUMENT: 3;
  readonly DEADLINE_EXCEEDED: 4; readonly NOT_FOUND: 5; readonly ALREADY_EXISTS: 6;
  readonly PERMISSION_DENIED: 7; readonly RESOURCE_EXHAUSTED: 8; readonly FAILED_PRECONDITION: 9;
  readonly ABORTED: 10; readonly OUT_OF_RANGE: 11; readonly UNIMPLEMENTED: 12; readonly INTERNAL: 13;
  readonly UNAVAILABLE: 14; readonly DATA_LOSS: 15; readonly UNAUTHENTICATED: 16;
};

export interface ConnectOptions {
  /** PEM file of the roots to trust; any of tlsCa, tlsCert, tlsKey means TLS. */
  tlsCa?: string;
  /** PEM file of the client certificate (with tlsKey). */
  tlsCert?: string;
  /** PEM file of the client certificate's PKCS#8 key (with tlsCert). */
  tlsKey?: string;
  /** Sent as `authorization: Bearer <token>` on every call; default: the SHARDOPT_TOKEN environment variable. */
  token?: string;
  /** Plaintext, explicitly (the default without TLS options). */
  insecure?: boolean;
  /** Deadline of a control call or a push, ms (default 60000). */
  deadlineMs?: number;
  /** Deadline of a pull, ms (default 90000, longer than the workers' own wait of 60 s). */
  pullTimeoutMs?: number;
  /** Deadline of a checkpoint, ms (default 600000). */
  checkpointTimeoutMs?: number;
  /** How long createModel and restoreModel wait for READY, ms (default 60000). */
  readyTimeoutMs?: number;
  /** Attempts of a push that a worker answers UNAVAILABLE (default 3). */
  pushAttempts?: number;
  /** First pause between push attempts, ms, doubled each time (default 200). */
  retryBackoffMs?: number;
  /**
   * Of a replicated model: how long a push or pull that a worker does not answer is tried again,
   * reading the shard map each time, until the map moves its shards to their backups, ms (default 60000).
   */
  failoverWaitMs?: number;
  /** Elements per chunk, at most 1048576 = 4 MiB of float32 (the default). */
  chunkElements?: number;
}

/** A generated initializer: the workers make the values (the same for every sharding). */
export type Initializer =
  | 'zeros'
  | { zeros: Record<string, never> }
  | { constant: number }
  | { normal: { mean: number; std: number; seed: number } }
  | { uniform: { low: number; high: number; seed: number } };

/**
 * One tensor of createModel: its initial values (uploaded by the package; a bare Float32Array is
 * 1-D), or a shape with a generated initializer (default zeros).
 */
export type TensorSpec =
  | Float32Array
  | { values: Float32Array; shape?: number[] }
  | { shape: number[]; init?: Initializer };

export type Mode = 'SYNC' | 'ASYNC';

export interface CreateModelOptions {
  /** The pipeline in the DSL text form, e.g. "adam(1e-3).clipNorm(1.0)". */
  pipeline: string;
  /** Tensor name -> spec, in model order. */
  tensors: Record<string, TensorSpec> | Map<string, TensorSpec>;
  /** K, the trainers whose gradients make a step (default 1). */
  trainers?: number;
  /** Default 'SYNC'. */
  mode?: Mode;
  /** ASYNC only: how many steps a trainer may run ahead of the slowest (0: no bound). */
  staleness?: number;
  /** Copies of every shard, each on another worker (0 or 1: one). */
  replicas?: number;
}

/** Tensor name -> values, in model order. */
export type Tensors = Record<string, Float32Array>;

export interface PulledParameters {
  /** The version returned: steps completed. */
  step: number;
  tensors: Tensors;
}

export interface PushResult {
  step: number;
  /** Every worker had this (trainer, step) already with the same data: nothing was applied again. */
  duplicate: boolean;
}

export interface PipelineError {
  /** "pipeline_text", "tensor_names", ... */
  field: string;
  /** What is wrong and what is allowed, e.g. "unknown method 'cosin' at column 24 — did you mean 'cosine'?". */
  message: string;
  /** 1-based column in the text; 0 when not from the text. */
  column: number;
}

export interface PipelineCheck {
  valid: boolean;
  /** The canonical text (equal texts are equal pipelines); null when invalid. */
  canonicalText: string | null;
  /** The OptimizerPipeline message with every effective value (proto field names); null when invalid. */
  pipeline: Record<string, any> | null;
  errors: PipelineError[];
}

export interface PipelineGeneration {
  generation: number;
  fromStep: number;
  /** The OptimizerPipeline message (proto field names). */
  pipeline: Record<string, any>;
}

export interface ModelInfo {
  /** "models/{id}". */
  name: string;
  state: 'LOADING' | 'READY' | 'FAILED' | 'MODEL_STATE_UNSPECIFIED';
  /** Steps completed on every worker. */
  step: number;
  trainers: number;
  mode: Mode;
  staleness: number;
  replicas: number;
  /** The newest generation's canonical text. */
  pipelineText: string;
  pipeline: Record<string, any>;
  tensors: { name: string; shape: number[] }[];
  failure: string;
  updatesApplied: number;
  stepsSkipped: number;
  pushes: number;
  duplicates: number;
  schedule: PipelineGeneration[];
  /** ASYNC: per trainer, its next push. */
  nextPush: number[];
}

export interface CheckpointInfo {
  model: string;
  step: number;
  /** DIR/step-<s>. */
  path: string;
  bytes: number;
  snapshotMillis: number;
  totalMillis: number;
  /** ASYNC: per trainer, its pushes in the checkpoint. */
  nextPush: number[];
}

export interface StepMetrics {
  step: number;
  update: number;
  skipped: boolean;
  learningRate: number;
  gradientNorm: number;
  clippedNorm: number;
  barrierWaitMillis: number;
  generation: number;
}

export interface ModelMetrics {
  model: string;
  stepsSkipped: number;
  steps: StepMetrics[];
}

export declare class Trainer {
  readonly model: RemoteModel;
  readonly rank: number;
  /** The step this trainer pushes next, and the version pull() waits for. */
  nextStep: number;
  /** The parameters once the model has completed `minStep` (default nextStep) steps. */
  pull(minStep?: number): Promise<Tensors>;
  /** As pull(), with the step of the version returned. */
  pullParameters(minStep?: number): Promise<PulledParameters>;
  /** Pushes this trainer's gradient of `step` (every tensor of the model) to every worker. */
  push(step: number, gradient: Tensors): Promise<PushResult>;
}

export declare class RemoteModel {
  /** "models/{id}". */
  readonly name: string;
  readonly id: string;
  readonly trainers: number;
  readonly mode: Mode;
  readonly tensors: ReadonlyArray<{ name: string; shape: number[]; size: number }>;
  /** Where trainers start: 0, or a restored model's checkpoint step. */
  readonly startStep: number;
  /** Trainer `rank`, 0 <= rank < trainers. */
  trainer(rank: number, options?: { startStep?: number }): Trainer;
  /** The model as the coordinator has it now. */
  describe(): Promise<ModelInfo>;
  /** Schedules pipeline `text` (DSL) from step `atStep` on. */
  updatePipeline(text: string, atStep: number): Promise<ModelInfo>;
  /** Writes a checkpoint into `directory` (made absolute; written by the servers under that path). */
  checkpoint(directory: string, options?: { atStep?: number }): Promise<CheckpointInfo>;
  metrics(options?: { fromStep?: number }): Promise<ModelMetrics>;
  delete(): Promise<void>;
}

export declare class Cluster {
  readonly address: string;
  createModel(id: string, options: CreateModelOptions): Promise<RemoteModel>;
  /** A model from a checkpoint (DIR/step-<s>, or a directory of them: the latest complete one). */
  restoreModel(id: string, checkpoint: string): Promise<RemoteModel>;
  /** An existing model, e.g. to train it from another process. */
  model(id: string): Promise<RemoteModel>;
  listModels(): Promise<string[]>;
  deleteModel(id: string): Promise<void>;
  /** Checks a pipeline text without creating anything. */
  parsePipeline(text: string, options?: { tensorNames?: string[] }): Promise<PipelineCheck>;
  /** Closes every channel; calls in flight fail with CANCELLED. */
  close(): void;
}

/** Connects to the coordinator at host:port. Channels connect on first use. */
export declare function connect(address: string, options?: ConnectOptions): Cluster;

/** Every error from the cluster, or from a local check (INVALID_ARGUMENT, no address). */
export declare class ShardoptError extends Error {
  /** The gRPC status code. */
  readonly code: number;
  /** Its name, e.g. "INVALID_ARGUMENT". */
  readonly codeName: string;
  /** The server's own message (the whole message for a local check). */
  readonly details: string;
  /** The address that answered, when a server did. */
  readonly address?: string;
}
export declare class CancelledError extends ShardoptError {}
export declare class UnknownError extends ShardoptError {}
export declare class InvalidArgumentError extends ShardoptError {}
export declare class DeadlineExceededError extends ShardoptError {}
export declare class NotFoundError extends ShardoptError {}
export declare class AlreadyExistsError extends ShardoptError {}
export declare class PermissionDeniedError extends ShardoptError {}
export declare class ResourceExhaustedError extends ShardoptError {}
export declare class FailedPreconditionError extends ShardoptError {}
export declare class AbortedError extends ShardoptError {}
export declare class OutOfRangeError extends ShardoptError {}
export declare class UnimplementedError extends ShardoptError {}
export declare class InternalError extends ShardoptError {}
export declare class UnavailableError extends ShardoptError {}
export declare class DataLossError extends ShardoptError {}
export declare class UnauthenticatedError extends ShardoptError {}
