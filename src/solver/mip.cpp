// MipModel on CBC.
#include "solver/mip.h"

#include <CbcModel.hpp>
#include <CbcSolver.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "solver/child_process.h"

namespace saturn::solver {

int MipModel::add_var(std::string name, double lower, double upper, double cost, bool integer) {
  names_.push_back(std::move(name));
  lower_.push_back(lower);
  upper_.push_back(upper);
  cost_.push_back(cost);
  integer_.push_back(integer ? 1 : 0);
  return num_vars() - 1;
}

void MipModel::add_row(const std::vector<std::pair<int, double>>& terms, double lower,
                       double upper) {
  rows_.push_back(terms);
  row_lower_.push_back(lower);
  row_upper_.push_back(upper);
}

MipModel::Outcome MipModel::solve_here(double seconds, const std::vector<double>& start,
                                       bool log) const {
  CoinPackedMatrix matrix(false, 0, 0);  // row-ordered
  matrix.setDimensions(0, num_vars());
  for (const auto& row : rows_) {
    std::vector<int> index;
    std::vector<double> value;
    for (const auto& [col, coef] : row) {
      index.push_back(col);
      value.push_back(coef);
    }
    matrix.appendRow(static_cast<int>(index.size()), index.data(), value.data());
  }
  OsiClpSolverInterface solver;
  solver.loadProblem(matrix, lower_.data(), upper_.data(), cost_.data(), row_lower_.data(),
                     row_upper_.data());
  for (int c = 0; c < num_vars(); ++c) {
    solver.setColName(c, names_[c]);
    if (integer_[c]) solver.setInteger(c);
  }
  // CBC 2.10's presolve dereferences row names whenever column names are set (coin-or/Cbc#515).
  for (int r = 0; r < num_rows(); ++r) solver.setRowName(r, "r" + std::to_string(r));
  solver.messageHandler()->setLogLevel(log ? 1 : 0);

  CbcModel model(solver);
  CbcSolverUsefulData data;
  CbcMain0(model, data);
  if (!start.empty()) {
    std::vector<std::pair<std::string, double>> mip_start;
    for (int c = 0; c < num_vars(); ++c) mip_start.emplace_back(names_[c], start[c]);
    model.setMIPStart(mip_start);
  }
  const std::string limit = std::to_string(std::max(0.05, seconds));
  const std::string level = log ? "1" : "0";
  // Wall-clock limit ("elapsed"): CPU time undercounts when the machine is shared.
  const char* argv[] = {"saturn",      "-timeMode", "elapsed", "-sec",   limit.c_str(), "-log",
                        level.c_str(), "-threads",  "1",       "-solve", "-quit"};
  CbcMain1(
      static_cast<int>(std::size(argv)), argv, model, [](CbcModel*, int) { return 0; }, data);

  Outcome out;
  out.bound = model.getBestPossibleObjValue();
  out.optimal = model.isProvenOptimal();
  out.stopped_on_time = model.secondaryStatus() == 4;
  if (model.bestSolution() && model.getSolutionCount() > 0) {
    out.has_solution = true;
    out.values.assign(model.bestSolution(), model.bestSolution() + num_vars());
    out.objective = model.getObjValue();
  }
  return out;
}

namespace {

// The child's answer: a fixed header, then `count` doubles.
struct Header {
  std::uint8_t has_solution, optimal, stopped_on_time;
  double objective, bound;
  std::uint64_t count;
};

}  // namespace

MipModel::Outcome MipModel::solve(double seconds, const std::vector<double>& start,
                                  bool log) const {
  Outcome out;
  const ChildResult child = run_in_child(
      [&] {
        const Outcome o = solve_here(seconds, start, log);
        Header h{o.has_solution, o.optimal, o.stopped_on_time,
                 o.objective,    o.bound,   o.values.size()};
        std::string bytes(reinterpret_cast<const char*>(&h), sizeof h);
        if (!o.values.empty()) {
          bytes.append(reinterpret_cast<const char*>(o.values.data()),
                       o.values.size() * sizeof(double));
        }
        return bytes;
      },
      seconds + std::max(5.0, seconds));
  if (!child.failure.empty()) {
    out.failure = "CBC: " + child.failure;
    return out;
  }
  Header h{};
  if (child.bytes.size() < sizeof h) {
    out.failure = "CBC: its process returned no answer";
    return out;
  }
  std::memcpy(&h, child.bytes.data(), sizeof h);
  if (child.bytes.size() != sizeof h + h.count * sizeof(double)) {
    out.failure = "CBC: its process returned a truncated answer";
    return out;
  }
  out.has_solution = h.has_solution;
  out.optimal = h.optimal;
  out.stopped_on_time = h.stopped_on_time;
  out.objective = h.objective;
  out.bound = h.bound;
  out.values.resize(h.count);
  if (h.count > 0) {
    std::memcpy(out.values.data(), child.bytes.data() + sizeof h, h.count * sizeof(double));
  }
  return out;
}

}  // namespace saturn::solver
