// A small builder for mixed-integer programs solved by COIN-OR CBC (through CbcMain, so CBC's
// default preprocessing, cuts and heuristics apply). Minimisation only.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace saturn::solver {

class MipModel {
 public:
  // Adds a column; returns its index. `name` must be unique (CBC matches MIP starts by name).
  int add_var(std::string name, double lower, double upper, double cost, bool integer);
  // Adds lower <= sum(coef * x[index]) <= upper. Use +-1e30 for an open side.
  void add_row(const std::vector<std::pair<int, double>>& terms, double lower, double upper);

  int num_vars() const { return static_cast<int>(lower_.size()); }
  int num_rows() const { return static_cast<int>(row_lower_.size()); }

  struct Outcome {
    bool has_solution = false;
    std::vector<double> values;  // per column, when has_solution
    double objective = 0;
    double bound = 0;  // CBC's best possible objective (valid lower bound)
    bool optimal = false;
    bool stopped_on_time = false;
    std::string failure;  // non-empty: CBC crashed or hung; nothing above is from it
  };

  // Solves within `seconds` of wall-clock time, starting from `start` (a full assignment, or
  // empty). `log` lets CBC print its progress to stdout.
  //
  // CBC runs in a child process: CBC 2.10 can crash (CglPreProcess::postProcess after a time
  // limit, seen under load) or overrun its limit, and neither may take the caller down. A child
  // that dies, or outlives the limit by max(5 s, the limit), is reported in `failure`.
  Outcome solve(double seconds, const std::vector<double>& start, bool log) const;

 private:
  Outcome solve_here(double seconds, const std::vector<double>& start, bool log) const;

  std::vector<std::string> names_;
  std::vector<double> lower_, upper_, cost_;
  std::vector<char> integer_;
  std::vector<std::vector<std::pair<int, double>>> rows_;
  std::vector<double> row_lower_, row_upper_;
};

}  // namespace saturn::solver
