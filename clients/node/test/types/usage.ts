// A typed use of the package, compiled with `tsc --noEmit -p test/types` (test/package.test.js):
// the declarations in index.d.ts must describe this program, and reject the wrong uses marked
// below as expected errors (tsc fails when such a line compiles).
import * as shardopt from '../..';
import { connect, InvalidArgumentError, RemoteModel, ShardoptError, Tensors, Trainer } from '../..';

async function train(address: string): Promise<number> {
  const cluster = connect(address, { token: 'secret', deadlineMs: 30000 });
  const model: RemoteModel = await cluster.createModel('typed', {
    pipeline: 'adam(1e-3).clipNorm(1.0)',
    tensors: {
      w: { values: new Float32Array(640), shape: [64, 10] },
      b: new Float32Array(10),
      emb: { shape: [100, 8], init: { normal: { mean: 0, std: 0.02, seed: 7 } } },
    },
    trainers: 2,
  });
  const trainer: Trainer = model.trainer(0);
  const params: Tensors = await trainer.pull();
  const w: Float32Array = params.w;
  const pushed = await trainer.push(trainer.nextStep, { w, b: params.b, emb: params.emb });
  const duplicate: boolean = pushed.duplicate;
  const { step } = await trainer.pullParameters(1);
  const info = await model.updatePipeline('adam(1e-4)', step + 2);
  const generations: number[] = info.schedule.map((g) => g.generation);
  const ckpt = await model.checkpoint('/tmp/ckpt', { atStep: 4 });
  const metrics = await model.metrics({ fromStep: 0 });
  const lr: number = metrics.steps[0].learningRate;
  const check = await cluster.parsePipeline('adam(1e-3).cosin(100)');
  const firstColumn: number = check.errors[0].column;
  const restored = await cluster.restoreModel('typed-2', ckpt.path);
  try {
    await cluster.model('nope');
  } catch (e) {
    if (e instanceof ShardoptError) {
      const code: number = e.code;
      const name: string = e.codeName;
      if (e instanceof InvalidArgumentError && e.code === shardopt.status.INVALID_ARGUMENT) return code;
      void name;
    }
  }
  // @ts-expect-error gradients are Float32Arrays, not number arrays
  await trainer.push(1, { w: [1, 2, 3] });
  // @ts-expect-error the pipeline is DSL text, required
  await cluster.createModel('x', { tensors: { w: new Float32Array(1) } });
  // @ts-expect-error tlsCa is a path
  connect(address, { tlsCa: 42 });
  // @ts-expect-error mode is SYNC or ASYNC
  await cluster.createModel('y', { pipeline: 'sgd()', tensors: {}, mode: 'sync' });
  cluster.close();
  return w.length + (duplicate ? 1 : 0) + generations.length + lr + firstColumn + restored.startStep;
}

void train;
