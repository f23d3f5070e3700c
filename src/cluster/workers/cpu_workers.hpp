// The workers of one rank on CPU threads (workers.hpp): each holds its shard, its fresh gradient
// g, its last uploaded gradient g_hat and the delta between them, and computes on a shared
// thread pool.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "cluster/workers/workers.hpp"
#include "lag/dataset.hpp"
#include "lag/model.hpp"
#include "lag/sampler.hpp"
#include "lag/thread_pool.hpp"
#include "model/loss_kernels.hpp"

namespace lag {

template <class T>
class CpuWorkers final : public Workers<T> {
 public:
  // Rows per gradient task. Fixed (never derived from the thread count) so that the partial
  // sums, and therefore the bits of every result, are the same for any number of threads.
  // 4 x 1001: the fused linear kernels read a task's rows as four streams of rows/4 rows
  // (model/gradient.cpp), and with 4096 rows the four would start 1024 rows apart, at one offset
  // within a 4 kB page for every row length, which cost 5-10% of one thread's bandwidth before
  // the kernels prefetched, and still costs 2-4% in fp32. 1001 is odd, so that happens only for
  // rows of a multiple of 4096 bytes (docs/benchmarks.md §1).
  static constexpr std::size_t kChunkRows = 4004;

  // `shards` and `pool` must outlive the workers; model.classes (and hidden) must be set for the
  // multi-class models.
  CpuWorkers(std::vector<const Shard<T>*> shards, std::size_t features, const ModelSpec& model,
             ThreadPool& pool);

  std::size_t count() const override { return workers_.size(); }
  std::size_t params() const override { return params_; }

  void reset(const Sampling& sampling, std::size_t first) override;
  void save(ClusterState<T>& state) override;
  void load(const ClusterState<T>& state) override;
  // Chunk-parallel, with a fixed-order chunk reduction.
  void compute(const Flags& selected, const T* theta) override;
  void compute_missing(const T* theta) override;
  void mark_stale() override;
  void prepare(const Round& round, const Flags& selected) override;
  void trigger(const Round& round, const Flags& selected, std::uint8_t* flags, std::size_t first,
               std::size_t total) override;
  const void* upload_payload(std::size_t i, const Round& round) const override;
  const void* pack(const Flags& senders, const Round& round) override;
  // Delta and Gradient: a swap (g becomes scratch); Quantized: a swap with Q; TopK: an addition.
  void commit(std::size_t i, const Round& round) override;
  void add_gradients(T* sum) override;
  std::size_t loss_record_size() const override { return 1; }
  const double* loss_record(std::size_t i) const override {
    return minibatches() ? &workers_[i].full_loss : &workers_[i].loss;
  }
  double loss(std::size_t, const double* record) const override { return *record; }

  const std::vector<T>& g(std::size_t i) const { return workers_[i].g; }
  const std::vector<T>& delta(std::size_t i) const { return workers_[i].delta; }
  double delta_norm2(std::size_t i) const { return workers_[i].delta_norm2; }
  bool fresh(std::size_t i) const { return workers_[i].fresh; }

 private:
  struct Worker {
    const Shard<T>* shard = nullptr;
    std::size_t first_chunk = 0;  // index of its first task in partials_
    std::size_t chunks = 0;
    std::vector<T> g, g_hat, delta;
    double loss = 0;
    double delta_norm2 = 0;
    bool fresh = false;  // g and loss are at the current theta
    // Compressed rounds (sized when first used). LAQ: Q and its innovation v, the radius and
    // error eps of this round's quantization, eps_hat of the last upload's, rounds skipped since.
    // CLAG: the
    // previous fresh gradient and ||g - g_prev||^2. The payload: LAQ's radius and codes, or
    // Top-k's values and indices.
    std::vector<T> q, v, g_prev;
    std::vector<std::uint8_t> payload;
    std::vector<std::uint32_t> top;
    double radius = 0, eps = 0, eps_hat = 0, innovation2 = 0, prev_change2 = 0;
    std::int64_t skipped = 0;
    // Minibatches: the sampler, this round's rows gathered (x, y), and the whole-shard gradient
    // and loss of the evaluation. LASG-WK: theta_hat, the gradient at it on the round's rows (h)
    // and ||g - h||^2.
    std::optional<MinibatchSampler> sampler;
    std::vector<std::uint32_t> batch;
    std::vector<T> batch_x, batch_y, full_g, theta_hat, h;
    double full_loss = 0, h_loss = 0, lasg_change2 = 0;
    bool full_fresh = false;
  };

  // One gradient to compute: over `rows` rows at x, y, at `theta`, into `out` (scaled by `scale`,
  // then the regulariser) and `loss`; `finish` runs after it, on the pool.
  struct Job {
    Worker* worker;
    const T* x;
    const T* y;
    std::size_t rows;
    const T* theta;
    T* out;
    double* loss;
    double scale;
    // The rows of x are the worker's minibatch, still to be copied from its shard: each task
    // gathers its own chunk just before it computes on it, on its own thread, so the rows are
    // in that core's cache for the GEMMs (gathering every worker's batch first left them in L3).
    bool gather = false;
  };

  ModelSpec model_;
  ThreadPool& pool_;
  std::unique_ptr<cpu::LossKernel<T>> kernel_;
  std::size_t params_;
  std::vector<std::vector<T>> scratch_;  // one per pool thread
  std::vector<Worker> workers_;
  std::vector<T> partials_;  // one vector per chunk (used by workers with > 1 chunk)
  std::vector<double> partial_loss_;
  std::vector<std::uint8_t> outbox_;  // pack()'s message
  std::vector<T> top_scratch_;
  std::vector<int> which_;
  std::vector<Job> jobs_;
  std::size_t features_;
  const T* theta_ = nullptr;  // where the last compute() was (LASG-WK's theta_hat on upload)

  bool minibatches() const { return !workers_.empty() && workers_[0].sampler.has_value(); }
  // The gradient over the worker's rows of this round (its minibatch, drawn by compute() and
  // gathered by the tasks of compute()'s job; else its shard) at `theta`, into `out` and `loss`,
  // scaled as Sampling says.
  Job round_job(Worker& w, const T* theta, T* out, double* loss) const;
  // Rows [begin, begin + rows) of w's minibatch, from its shard into batch_x and batch_y.
  void gather(Worker& w, std::size_t begin, std::size_t rows) const;
  // The jobs, chunk-parallel with a fixed-order chunk reduction; finish(j) after job j.
  template <class Finish>
  void run(const std::vector<Job>& jobs, const Finish& finish);
  void compute_listed(const std::vector<int>& which, const T* theta);
};

}  // namespace lag
