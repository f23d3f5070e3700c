// Minibatches (docs/architecture.md §2, "Minibatches"): each worker draws its rows from a seeded
// stream of its own. The stream is the concatenation of epochs, each a fresh permutation of the
// shard's rows 0..n-1 drawn from Random(mix(seed, worker, epoch)); minibatch j is positions
// jB .. jB+B-1 of the stream, a batch that crosses the end of an epoch takes the rest of one
// permutation and the start of the next. The whole state is the number of rows drawn, so the
// draws depend on nothing but (seed, global worker index, rows, B): the same for any thread or
// rank count and on every backend, and a checkpoint saves one integer per worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lag {

class MinibatchSampler {
 public:
  // Throws lag::Error unless 1 <= batch <= rows.
  MinibatchSampler(std::size_t rows, std::size_t batch, std::uint64_t seed, std::size_t worker);

  // The next minibatch's row indices, in increasing order (the sum over a batch is then taken in
  // shard order: a batch of the whole shard gives the full-batch gradient bit for bit).
  void draw(std::vector<std::uint32_t>& rows);

  std::uint64_t drawn() const { return drawn_; }
  // Continue as a sampler that has drawn `drawn` rows (a multiple of the batch size).
  void seek(std::uint64_t drawn);

  std::size_t batch() const { return batch_; }
  std::size_t rows() const { return rows_; }

  // Epoch `epoch`'s permutation of the worker's rows (the stream's positions epoch*rows ...).
  static std::vector<std::uint32_t> epoch_permutation(std::size_t rows, std::uint64_t seed,
                                                      std::size_t worker, std::uint64_t epoch);

 private:
  std::size_t rows_, batch_;
  std::uint64_t seed_;
  std::size_t worker_;
  std::uint64_t drawn_ = 0;
  std::uint64_t cached_epoch_ = ~std::uint64_t{0};
  std::vector<std::uint32_t> permutation_;  // of cached_epoch_

  const std::vector<std::uint32_t>& permutation(std::uint64_t epoch);
};

}  // namespace lag
