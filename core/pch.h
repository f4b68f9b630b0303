// Precompiled header for dtbench's C++ targets: the heavy, stable includes.
#pragma once
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
