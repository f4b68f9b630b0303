// The parts of a result record that every benchmark fills the same way: config, launch,
// system, per-rank identity and peak memory, and writing it (rank 0, atomically), also
// for a failed run.
#pragma once

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "core/app/cli.h"
#include "core/comm/world.h"

namespace dtbench {

// Fills config (every resolved flag plus tags), launch and system; collective over the world's
// control plane (hosts, per-rank entries).
void fill_run_record(nlohmann::json& record, const cxxopts::ParseResult& flags, const CommonArgs& common, World& world);

// Sets record["per_rank"][r][key] to every rank's `value`; collective.
void gather_per_rank(nlohmann::json& record, World& world, const std::string& key, double value);

// Sets duration_s and status; rank 0 writes it to --out (if given) atomically. Collective: a
// run with --trace writes its timelines here (core/comm/trace_file.h).
void finish_run_record(nlohmann::json& record, const CommonArgs& common, World& world, double duration_s,
                       const std::string& error = "");

}  // namespace dtbench
