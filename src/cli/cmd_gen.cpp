// lag gen: seeded synthetic data, one file per worker.
#include <cstdio>

#include "cli/commands.hpp"
#include "lag/error.hpp"
#include "lag/synthetic.hpp"

namespace lag::cli {

namespace {

class GenCommand final : public Command {
 public:
  explicit GenCommand(CLI::App& app) {
    CLI::App* c = app.add_subcommand(
        "gen",
        "Write a seeded synthetic data set, one file per worker (shard-01.svm, ...).\n"
        "  paper-linear: the paper's heterogeneous linear regression: shard m is the d x d "
        "matrix 1.3^(m-1) q_m q_m^T + I (q_m: column m of a random orthogonal matrix) and every "
        "shard has the same random target (rows = d).\n"
        "  hetero: Gaussian rows with per-shard scales so that the smoothness constants L_m "
        "spread geometrically by --spread; targets from a planted theta (linear, or logistic "
        "+-1 labels).");
    c->add_option("kind", kind_, "paper-linear or hetero")
        ->required()
        ->check(CLI::IsMember({"paper-linear", "hetero"}));
    c->add_option("--out", out_, "Folder to write the shards into")->required();
    c->add_option("--workers", workers_, "Number of shards M")->capture_default_str();
    c->add_option("--dim", dim_, "Number of features d")->capture_default_str();
    c->add_option("--growth", growth_, "paper-linear: factor between consecutive shards' scales")
        ->capture_default_str();
    c->add_option("--rows", rows_, "hetero: rows per shard")->capture_default_str();
    c->add_option("--spread", spread_, "hetero: ratio L_M / L_1")->capture_default_str();
    c->add_option("--model", model_, "hetero: linear or logistic targets")
        ->check(CLI::IsMember({"linear", "logistic"}))
        ->capture_default_str();
    c->add_option("--noise", noise_, "hetero linear: standard deviation of the target noise")
        ->capture_default_str();
    c->add_option("--seed", seed_, "Random seed")->capture_default_str();
    c->add_option("--format", format_, "File format: libsvm or csv")
        ->check(CLI::IsMember({"libsvm", "csv"}))
        ->capture_default_str();
  }

  int run() override {
    Dataset<double> data;
    if (kind_ == "paper-linear") {
      PaperLinearSpec s;
      s.workers = workers_;
      s.dim = dim_;
      s.growth = growth_;
      s.seed = seed_;
      data = make_paper_linear(s);
    } else {
      HeteroSpec s;
      s.workers = workers_;
      s.dim = dim_;
      s.rows = rows_;
      s.spread = spread_;
      s.logistic = model_ == "logistic";
      s.noise = noise_;
      s.seed = seed_;
      data = make_hetero(s);
    }
    const auto paths = write_shards(data, out_, parse_file_format(format_));
    std::printf("wrote %zu shards (%zu rows, %zu features) to %s\n", paths.size(),
                data.total_rows(), data.dim, out_.c_str());
    return kExitOk;
  }

 private:
  std::string kind_, out_, model_ = "linear", format_ = "libsvm";
  int workers_ = 9;
  std::size_t dim_ = 50, rows_ = 200;
  double spread_ = 100.0, noise_ = 0.1, growth_ = 1.3;
  std::uint64_t seed_ = 1;
};

}  // namespace

std::unique_ptr<Command> add_gen_command(CLI::App& app) {
  return std::make_unique<GenCommand>(app);
}

}  // namespace lag::cli
