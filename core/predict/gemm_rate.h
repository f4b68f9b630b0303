// The rate a set of GEMMs runs at on a device: each at the profile's rate for its size.
#pragma once

#include <vector>

#include "core/model/gemms.h"
#include "core/predict/hw_profile.h"

namespace dtbench {

// Their FLOPs over their seconds, each GEMM at `curve`'s rate for its size times `scale` (the
// share of the measured rate the code achieves); `flat` for all of them without a curve.
double gemm_set_rate(const std::vector<Gemm>& gemms, const GemmCurve* curve, double scale, double flat);

}  // namespace dtbench
