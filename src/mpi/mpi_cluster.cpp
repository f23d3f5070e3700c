#include "mpi/mpi_cluster.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "cpu/gradient.hpp"
#include "lag/error.hpp"

namespace lag {

namespace {

constexpr int kUploadTag = 1;
constexpr int kEvalTag = 2;

template <class T>
std::vector<const Shard<T>*> block_shards(const Dataset<T>& data, mpi::WorkerBlock b) {
  std::vector<const Shard<T>*> out;
  for (int m = b.first; m < b.end(); ++m) out.push_back(&data.shards[static_cast<std::size_t>(m)]);
  return out;
}

int message_bytes(std::size_t bytes) {
  if (bytes > static_cast<std::size_t>(INT_MAX))
    throw Error("a message of " + std::to_string(bytes) +
                " bytes is too large for one MPI call; use fewer workers per rank");
  return static_cast<int>(bytes);
}

template <class T>
void add_to(std::vector<T>& sum, const T* v) {
  for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += v[j];
}

}  // namespace

template <class T>
MpiCluster<T>::MpiCluster(MpiSession& session, const Dataset<T>& data, const ModelSpec& model,
                          ThreadPool& pool)
    : session_(session),
      workers_total_(data.workers()),
      block_(mpi::worker_block(data.workers(), session.size(), session.rank())),
      local_(block_shards(data, block_), data.dim, model, pool),
      theta_(local_.params(), T(0)),
      outbox_(static_cast<std::size_t>(block_.count) * local_.params()),
      step_msg_(vector_bytes() + sizeof(double)),
      eval_msg_(sizeof(double) + vector_bytes()),
      eval_grad_(local_.params()),
      fault_(session) {
  if (workers_total_ < session.size())
    throw Error("--workers " + std::to_string(workers_total_) + " is fewer than the " +
                std::to_string(session.size()) + " MPI ranks: every rank needs a worker");
  const int largest = mpi::worker_block(workers_total_, session.size(), 0).count;
  message_bytes(static_cast<std::size_t>(largest) * vector_bytes());
  message_bytes(step_msg_.size());
  if (!server()) return;
  aggregate_.assign(local_.params(), T(0));
  theta_hat_.assign(static_cast<std::size_t>(workers_total_), theta_);
  inbox_.resize(static_cast<std::size_t>(session.size()));
  for (int r = 1; r < session.size(); ++r)
    inbox_[static_cast<std::size_t>(r)].resize(
        static_cast<std::size_t>(mpi::worker_block(workers_total_, session.size(), r).count) *
        local_.params());
}

template <class T>
void MpiCluster<T>::reset(const std::vector<double>& theta0) {
  // Every rank starts from the same theta0, so the replicas start current without a message.
  if (theta0.empty())
    std::fill(theta_.begin(), theta_.end(), T(0));
  else
    std::transform(theta0.begin(), theta0.end(), theta_.begin(),
                   [](double v) { return static_cast<T>(v); });
  if (server()) {
    std::fill(aggregate_.begin(), aggregate_.end(), T(0));
    for (auto& t : theta_hat_) t = theta_;
  }
  local_.reset();
  physical_up_ = physical_down_ = 0;
}

template <class T>
void MpiCluster<T>::compute(const Flags& selected) {
  fault_.at_iteration(++iterations_);
  std::vector<int> which;
  for (int m = block_.first; m < block_.end(); ++m)
    if (selected[static_cast<std::size_t>(m)]) which.push_back(m - block_.first);
  local_.compute(which, theta_.data());
}

template <class T>
void MpiCluster<T>::trigger(double tau, const Flags& selected, Flags& fire) {
  const auto M = static_cast<std::size_t>(workers_total_);
  fire.assign(M, 0);
  for (int i = 0; i < block_.count; ++i) {
    const auto m = static_cast<std::size_t>(block_.first + i);
    fire[m] = selected[m] && wk_fires(local_.delta_norm2(static_cast<std::size_t>(i)), tau);
  }
  if (session_.size() == 1) return;
  // Each rank set only its own workers' flags; MAX leaves every flag as its owner set it.
  MPI_Request request;
  LAG_MPI(MPI_Iallreduce(MPI_IN_PLACE, fire.data(), workers_total_, MPI_UINT8_T, MPI_MAX,
                         MPI_COMM_WORLD, &request));
  session_.wait(request, "the exchange of trigger flags, MPI_Iallreduce");
  physical_up_ += others() * M;
  physical_down_ += others() * M;
}

template <class T>
void MpiCluster<T>::ps_select(double tau, const std::vector<double>& worker_smoothness,
                              Flags& selected) {
  const auto M = static_cast<std::size_t>(workers_total_);
  selected.assign(M, 0);
  if (server())
    for (std::size_t m = 0; m < M; ++m) {
      const double d2 = cpu::distance2(theta_hat_[m].data(), theta_.data(), theta_.size());
      selected[m] = ps_fires(worker_smoothness[m], d2, tau) ? 1 : 0;
    }
  if (session_.size() == 1) return;
  MPI_Request request;
  LAG_MPI(MPI_Ibcast(selected.data(), workers_total_, MPI_UINT8_T, 0, MPI_COMM_WORLD, &request));
  session_.wait(request, "the broadcast of the server's requests, MPI_Ibcast", 0);
  physical_down_ += others() * M;
}

template <class T>
void MpiCluster<T>::upload(const Flags& senders, bool replace) {
  const int R = session_.size();
  const std::size_t d = local_.params();
  // How many senders each rank holds: known on every rank from the agreed flags, so rank 0
  // posts receives exactly for the ranks that send.
  std::vector<int> sending(static_cast<std::size_t>(R), 0);
  for (int m = 0; m < workers_total_; ++m)
    if (senders[static_cast<std::size_t>(m)]) ++sending[mpi::rank_of_worker(workers_total_, R, m)];
  for (int r = 1; r < R; ++r)
    physical_up_ +=
        static_cast<std::uint64_t>(sending[static_cast<std::size_t>(r)]) * d * sizeof(T);
  const auto vector_of = [&](std::size_t i) -> const T* {
    return replace ? local_.g(i).data() : local_.delta(i).data();
  };

  if (!server()) {
    const int mine = sending[static_cast<std::size_t>(session_.rank())];
    if (mine == 0) return;
    // One message with the senders' vectors one after another, not their sum: rank 0 must add
    // them one by one in worker order, or the floating-point sum (and every iterate after it)
    // would differ from the single-process run in the last bits. The issue's "per-rank
    // pre-summed" trades that bit-identity for fewer bytes; we keep the identity.
    std::size_t packed = 0;
    for (int i = 0; i < block_.count; ++i) {
      const auto li = static_cast<std::size_t>(i);
      if (!senders[static_cast<std::size_t>(block_.first + i)]) continue;
      std::copy(vector_of(li), vector_of(li) + d,
                outbox_.begin() + static_cast<std::ptrdiff_t>(packed * d));
      local_.commit(li);
      ++packed;
    }
    MPI_Request request;
    LAG_MPI(MPI_Isend(outbox_.data(), message_bytes(packed * d * sizeof(T)), MPI_BYTE, 0,
                      kUploadTag, MPI_COMM_WORLD, &request));
    session_.wait(request, "the upload to rank 0", 0);
    return;
  }

  std::vector<MPI_Request> requests(static_cast<std::size_t>(R), MPI_REQUEST_NULL);
  for (int r = 1; r < R; ++r) {
    const auto n = static_cast<std::size_t>(sending[static_cast<std::size_t>(r)]);
    if (n > 0)
      LAG_MPI(MPI_Irecv(inbox_[static_cast<std::size_t>(r)].data(),
                        message_bytes(n * d * sizeof(T)), MPI_BYTE, r, kUploadTag, MPI_COMM_WORLD,
                        &requests[static_cast<std::size_t>(r)]));
  }
  // Rank 0's own senders first (the lowest worker indices), exactly as CpuCluster::upload.
  if (replace) std::fill(aggregate_.begin(), aggregate_.end(), T(0));
  for (int i = 0; i < block_.count; ++i) {
    const auto li = static_cast<std::size_t>(i);
    if (!senders[static_cast<std::size_t>(block_.first + i)]) continue;  // block_.first is 0
    add_to(aggregate_, vector_of(li));
    local_.commit(li);
  }
  session_.wait(requests, "the uploads to rank 0");
  // Then rank by rank, each rank's senders in worker order: global worker order.
  for (int r = 1; r < R; ++r) {
    const auto n = static_cast<std::size_t>(sending[static_cast<std::size_t>(r)]);
    for (std::size_t j = 0; j < n; ++j)
      add_to(aggregate_, inbox_[static_cast<std::size_t>(r)].data() + j * d);
  }
  for (int m = 0; m < workers_total_; ++m)
    if (senders[static_cast<std::size_t>(m)]) theta_hat_[static_cast<std::size_t>(m)] = theta_;
}

template <class T>
double MpiCluster<T>::step(double step_size) {
  double change2 = 0;
  if (server()) {
    // CpuCluster::step, operation for operation.
    const T s = static_cast<T>(step_size);
    for (std::size_t j = 0; j < theta_.size(); ++j) {
      const T next = theta_[j] - s * aggregate_[j];
      const double d = static_cast<double>(next) - static_cast<double>(theta_[j]);
      change2 += d * d;
      theta_[j] = next;
    }
  }
  local_.mark_stale();
  if (session_.size() == 1) return change2;
  // theta || change2 in one broadcast: the replicas are current for the next compute (or
  // evaluation), and every engine pushes the same step norm into its threshold history.
  const std::size_t vb = vector_bytes();
  if (server()) {
    std::memcpy(step_msg_.data(), theta_.data(), vb);
    std::memcpy(step_msg_.data() + vb, &change2, sizeof change2);
  }
  MPI_Request request;
  LAG_MPI(MPI_Ibcast(step_msg_.data(), static_cast<int>(step_msg_.size()), MPI_BYTE, 0,
                     MPI_COMM_WORLD, &request));
  session_.wait(request, "the broadcast of theta, MPI_Ibcast", 0);
  if (!server()) {
    std::memcpy(theta_.data(), step_msg_.data(), vb);
    std::memcpy(&change2, step_msg_.data() + vb, sizeof change2);
  }
  physical_down_ += others() * step_msg_.size();
  return change2;
}

template <class T>
Evaluation MpiCluster<T>::evaluate() {
  local_.compute_missing(theta_.data());
  // CpuCluster sums the workers' losses and gradients left to right in worker order. The running
  // sums travel along the ranks in rank order (each adds its block), which is that same order:
  // R - 1 messages of one vector instead of gathering M vectors.
  const int R = session_.size(), me = session_.rank();
  const std::size_t vb = vector_bytes();
  double loss = 0;
  std::fill(eval_grad_.begin(), eval_grad_.end(), T(0));
  if (me > 0) {
    MPI_Request request;
    LAG_MPI(MPI_Irecv(eval_msg_.data(), static_cast<int>(eval_msg_.size()), MPI_BYTE, me - 1,
                      kEvalTag, MPI_COMM_WORLD, &request));
    session_.wait(request, "the evaluation's running sum", me - 1);
    std::memcpy(&loss, eval_msg_.data(), sizeof loss);
    std::memcpy(eval_grad_.data(), eval_msg_.data() + sizeof loss, vb);
  }
  for (std::size_t i = 0; i < local_.count(); ++i) {
    loss += local_.loss(i);
    add_to(eval_grad_, local_.g(i).data());
  }
  Evaluation e;
  if (me + 1 < R) {
    std::memcpy(eval_msg_.data(), &loss, sizeof loss);
    std::memcpy(eval_msg_.data() + sizeof loss, eval_grad_.data(), vb);
    MPI_Request request;
    LAG_MPI(MPI_Isend(eval_msg_.data(), static_cast<int>(eval_msg_.size()), MPI_BYTE, me + 1,
                      kEvalTag, MPI_COMM_WORLD, &request));
    session_.wait(request, "the evaluation's running sum", me + 1);
  } else {
    e.loss = loss;
    e.grad_norm = std::sqrt(cpu::norm2(eval_grad_.data(), eval_grad_.size()));
  }
  if (R == 1) return e;
  // The last rank holds the result; every engine takes its stopping decisions on it.
  double result[2] = {e.loss, e.grad_norm};
  session_.broadcast(result, 2, R - 1, "the broadcast of the evaluation (MPI_Ibcast)");
  e.loss = result[0];
  e.grad_norm = result[1];
  return e;
}

template <class T>
void MpiCluster<T>::take_physical_bytes(std::uint64_t& up, std::uint64_t& down) {
  up = physical_up_;
  down = physical_down_;
  physical_up_ = physical_down_ = 0;
}

template <class T>
bool MpiCluster<T>::agree(bool value) {
  return session_.root_decision(value, "the broadcast of rank 0's time-limit decision, MPI_Ibcast");
}

template class MpiCluster<float>;
template class MpiCluster<double>;

}  // namespace lag
