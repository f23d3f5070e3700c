#include "lag/sampler.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "lag/error.hpp"
#include "lag/random.hpp"

namespace lag {

namespace {

// SplitMix64's finaliser: consecutive inputs give unrelated outputs, so that the generators of
// neighbouring (worker, epoch) pairs do not start from related states.
std::uint64_t scramble(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

MinibatchSampler::MinibatchSampler(std::size_t rows, std::size_t batch, std::uint64_t seed,
                                   std::size_t worker)
    : rows_(rows), batch_(batch), seed_(seed), worker_(worker) {
  if (batch < 1 || batch > rows)
    throw Error("--batch-size " + std::to_string(batch) + " does not fit worker " +
                std::to_string(worker) + "'s " + std::to_string(rows) +
                " rows (it must be between 1 and the rows of the smallest shard)");
  if (rows > std::numeric_limits<std::uint32_t>::max())
    throw Error("a shard of " + std::to_string(rows) + " rows is too large for minibatches");
}

std::vector<std::uint32_t> MinibatchSampler::epoch_permutation(std::size_t rows, std::uint64_t seed,
                                                               std::size_t worker,
                                                               std::uint64_t epoch) {
  Random random(scramble(scramble(scramble(seed) ^ worker) ^ epoch));
  const std::vector<std::size_t> p = random.permutation(rows);
  return std::vector<std::uint32_t>(p.begin(), p.end());
}

const std::vector<std::uint32_t>& MinibatchSampler::permutation(std::uint64_t epoch) {
  if (epoch != cached_epoch_) {
    permutation_ = epoch_permutation(rows_, seed_, worker_, epoch);
    cached_epoch_ = epoch;
  }
  return permutation_;
}

void MinibatchSampler::draw(std::vector<std::uint32_t>& rows) {
  rows.resize(batch_);
  for (std::size_t i = 0; i < batch_; ++i) {
    const std::uint64_t position = drawn_ + i;
    rows[i] = permutation(position / rows_)[position % rows_];
  }
  drawn_ += batch_;
  std::sort(rows.begin(), rows.end());
}

void MinibatchSampler::seek(std::uint64_t drawn) {
  if (drawn % batch_ != 0)
    throw Error("a saved minibatch position (" + std::to_string(drawn) +
                " rows drawn) is not a whole number of batches of " + std::to_string(batch_));
  drawn_ = drawn;
}

}  // namespace lag
