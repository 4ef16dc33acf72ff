package dev.shardopt.device.cuda;

import static org.bytedeco.cuda.global.cudart.cuModuleGetFunction;
import static org.bytedeco.cuda.global.cudart.cuModuleLoadData;
import static org.bytedeco.cuda.global.cudart.cuModuleUnload;

import dev.shardopt.engine.device.KernelSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.javacpp.BytePointer;

/** The loaded kernel image and a handle to each kernel of {@link KernelSource}. */
final class CudaModule implements AutoCloseable {
  static final List<String> KERNELS = List.of(
      KernelSource.SGD, KernelSource.MOMENTUM, KernelSource.NESTEROV, KernelSource.ADAGRAD,
      KernelSource.RMSPROP, KernelSource.ADAM, KernelSource.LION, KernelSource.ADD, KernelSource.DIV,
      KernelSource.ADD_DIV, KernelSource.FILL, KernelSource.BLOCK_REDUCE);

  private final CUmod_st module;
  private final Map<String, CUfunc_st> functions = new HashMap<>();
  private final String producedBy;

  /** Loads {@code image} into the current context (the caller's thread has it current). */
  CudaModule(KernelImage image) {
    this(image, KERNELS);
  }

  /** Loads {@code image} and looks up {@code kernels} in it. */
  CudaModule(KernelImage image, List<String> kernels) {
    this.producedBy = image.producedBy();
    CUmod_st m = new CUmod_st();
    try (BytePointer bytes = new BytePointer(image.bytes())) {
      CudaErrors.checkDriver(cuModuleLoadData(m, bytes), "cuModuleLoadData(" + image.producedBy() + ")");
    }
    this.module = m;
    try {
      for (String name : kernels) {
        CUfunc_st f = new CUfunc_st();
        CudaErrors.checkDriver(cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
        functions.put(name, f);
      }
    } catch (RuntimeException e) {
      cuModuleUnload(module);
      throw e;
    }
  }

  CUfunc_st function(String name) {
    CUfunc_st f = functions.get(name);
    if (f == null) {
      throw new IllegalArgumentException("no kernel named " + name + " in the module");
    }
    return f;
  }

  String producedBy() {
    return producedBy;
  }

  @Override
  public void close() {
    cuModuleUnload(module);
  }
}
