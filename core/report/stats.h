// Summary statistics of timing samples: what records and tables report.
#pragma once

#include <cstddef>
#include <vector>

namespace dtbench {

struct Summary {
  double median = 0, p10 = 0, p90 = 0, mean = 0, min = 0, max = 0;
  std::size_t n = 0;
};

// Percentile by linear interpolation between closest ranks (numpy's default); q in [0, 1].
double percentile(std::vector<double> samples, double q);

// All figures of Summary; an empty input gives n = 0 and zeros.
Summary summarize(const std::vector<double>& samples);

}  // namespace dtbench
