// Records the work enqueued on a stream into an executable CUDA graph. If anything throws
// between the start and finish(), the destructor ends the capture and drops the partial graph,
// so that the stream is usable again and a later call can capture afresh.
#pragma once

#include <cuda_runtime_api.h>

#include "cuda/check.hpp"

namespace lag::cuda {

class StreamCapture {
 public:
  explicit StreamCapture(cudaStream_t s) : stream_(s) {
    LAG_CUDA(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  }
  ~StreamCapture() {
    if (!stream_) return;
    cudaGraph_t partial = nullptr;
    cudaStreamEndCapture(stream_, &partial);  // an error here has nobody to tell
    if (partial) cudaGraphDestroy(partial);
  }
  StreamCapture(const StreamCapture&) = delete;
  StreamCapture& operator=(const StreamCapture&) = delete;

  // Ends the capture and instantiates what it recorded.
  cudaGraphExec_t finish() {
    const cudaStream_t s = stream_;
    stream_ = nullptr;
    cudaGraph_t graph = nullptr;
    LAG_CUDA(cudaStreamEndCapture(s, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    LAG_CUDA(made);
    return exec;
  }

 private:
  cudaStream_t stream_;
};

}  // namespace lag::cuda
