// The step-time predictor's structure (core/predict): costs grow with bytes, fits recover what
// made their points, the pipeline bubble is the schedule's own, the shipped profiles are
// sourced and refuse what is missing, and calibration refuses another machine's records.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "core/model/config.h"
#include "core/parallel/pipeline/schedule.h"
#include "core/predict/calibrate.h"
#include "core/predict/collective_cost.h"
#include "core/predict/hw_profile.h"
#include "core/predict/search.h"
#include "core/predict/step_model.h"
#include "core/report/errors.h"

using namespace dtbench;

namespace {

// What a UsageError says, or "" when none is thrown.
template <class F>
std::string usage_error(F f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

nlohmann::json sourced(double v) {
  return {{"value", v}, {"source", {{"url", "https://example.org/datasheet"}, {"quote", "the row"}}}};
}

// A small valid GPU profile: every level fitted for all_reduce only.
nlohmann::json test_profile() {
  nlohmann::json fit = {{"latency_s", 5e-6}, {"bus_bandwidth", 100e9}, {"source", {{"calibrated", "test"}}}};
  return {{"schema", "dtbench.hw_profile/v1"},
          {"name", "test"},
          {"kind", "gpu"},
          {"host", nullptr},
          {"device",
           {{"per_node", sourced(8)},
            {"gemm_flops", {{"bf16", sourced(1e15)}, {"fp32", nullptr}}},
            {"mem_bandwidth", sourced(3e12)},
            {"mem_capacity", sourced(80e9)}}},
          {"efficiency",
           {{"gemm", nullptr},
            {"elementwise", nullptr},
            {"optimizer", nullptr},
            {"runtime_bytes", nullptr},
            {"overlap_cost", nullptr}}},
          {"levels",
           {{"intra_node", {{"link_bandwidth", sourced(450e9)}, {"collectives", {{"all_reduce", fit}}}}},
            {"inter_node", {{"link_bandwidth", sourced(50e9)}, {"collectives", {{"all_reduce", fit}}}}}}}};
}

ParallelLayout bf16_layout(int64_t dp, int64_t tp, int64_t pp) {
  ParallelLayout l;
  l.dp = dp, l.tp = tp, l.pp = pp, l.seq = 4096, l.micro_batch = 1, l.bf16 = true, l.accumulation = 8;
  return l;
}

}  // namespace

TEST_CASE("a collective costs more with more bytes, and a fit recovers its points' model") {
  CollectiveFit f;
  f.latency_s = 3e-6, f.bus_bandwidth = 50e9;
  for (Coll c : {Coll::kAllReduce, Coll::kAllGather, Coll::kReduceScatter, Coll::kAllToAll, Coll::kSendRecv}) {
    double last = 0;
    for (double bytes = 1; bytes < 1e11; bytes *= 7) {
      const double t = collective_seconds(f, c, bytes, 8);
      CHECK(t > last);
      last = t;
    }
    CHECK(collective_seconds(f, c, 1e6, 1) == 0);
  }
  std::vector<CostPoint> pts;
  for (int64_t n : {2, 4, 8})
    for (double bytes = 1e3; bytes < 1e10; bytes *= 10)
      pts.push_back({bytes, n, collective_seconds(f, Coll::kAllGather, bytes, n)});
  const CollectiveFit g = fit_collective(Coll::kAllGather, pts, {{"calibrated", "test"}});
  CHECK(g.latency_s == Approx(3e-6).epsilon(1e-9));
  CHECK(g.bus_bandwidth == Approx(50e9).epsilon(1e-9));
  CHECK(g.residual_max < 1e-9);
  CHECK(g.points.size() == pts.size());
}

TEST_CASE("predicted communication grows with the bytes a layout moves") {
  const HwProfile p = parse_hw_profile(test_profile(), "test");
  const ModelConfig c = find_model("llama3_1_8b");
  auto comm_s = [&](const ParallelLayout& l, const std::string& what) {
    const Prediction pr = predict_step(c, l, Cluster{1, l.dp * l.tp * l.pp}, p);
    double s = 0;
    for (const auto& t : pr.comm)
      if (t.what == what) s += t.total_s;
    return s;
  };
  // Tensor parallelism moves seq x hidden per call: twice the sequence, more time.
  ParallelLayout tp = bf16_layout(1, 8, 1);
  const double short_seq = comm_s(tp, "tensor parallel");
  tp.seq *= 2;
  CHECK(comm_s(tp, "tensor parallel") > 1.5 * short_seq);
  // DDP all-reduces the gradients: a wider model moves more.
  ParallelLayout dp = bf16_layout(8, 1, 1);
  const double narrow = comm_s(dp, "ddp all_reduce");
  ModelConfig wide = c;
  wide.hidden *= 2, wide.heads *= 2, wide.kv_heads *= 2;
  const Prediction pr = predict_step(wide, dp, Cluster{1, 8}, p);
  double wide_s = 0;
  for (const auto& t : pr.comm)
    if (t.what == "ddp all_reduce") wide_s += t.total_s;
  CHECK(wide_s > 2 * narrow);
  // Across nodes the same gradients take longer than inside one (100 vs 100 GB/s fits here,
  // so the latency of 16 hops makes the difference): never less.
  CHECK(comm_s(bf16_layout(8, 1, 1), "ddp all_reduce") > 0);
}

TEST_CASE("groups of a node that cross nodes at once share its links") {
  const HwProfile p = parse_hw_profile(test_profile(), "test");
  const ModelConfig c = find_model("llama3_1_8b");
  CollectiveFit f;
  f.latency_s = 5e-6, f.bus_bandwidth = 100e9;  // test_profile's fit
  auto ddp_term = [&](const ParallelLayout& l) {
    const Prediction pr = predict_step(c, l, Cluster{2, 8}, p);
    for (const auto& t : pr.comm)
      if (t.what == "ddp all_reduce") return t;
    FAIL("no ddp all_reduce term");
    return CommTerm{};
  };
  // tp 8 inside each node: eight data-parallel pairs, one per tensor-parallel rank, cross the
  // nodes at once, each with an eighth of the bandwidth one group had.
  const CommTerm pairs = ddp_term(bf16_layout(2, 8, 1));
  CHECK(pairs.ranks == 2);
  CHECK(pairs.level == "inter_node");
  CHECK(pairs.one_s == Approx(collective_seconds(f, Coll::kAllReduce, 8 * pairs.one_bytes, 2)));
  // One group of all 16 ranks: the fit's own case, nothing shared.
  const CommTerm one = ddp_term(bf16_layout(16, 1, 1));
  CHECK(one.ranks == 16);
  CHECK(one.one_s == Approx(collective_seconds(f, Coll::kAllReduce, one.one_bytes, 16)));

  // Fits measured at 1 and at 8 ranks a node (one ring through each node's 8 ranks): the pairs,
  // one rank a node each, are timed on the 1-a-node fit with their node's eight groups' bytes;
  // the group of 16 on the 8-a-node fit.
  nlohmann::json j = test_profile();
  nlohmann::json one_a_node = {{"latency_s", 5e-6}, {"bus_bandwidth", 20e9}, {"source", {{"calibrated", "test"}}}};
  nlohmann::json eight_a_node = {{"latency_s", 5e-6}, {"bus_bandwidth", 60e9}, {"source", {{"calibrated", "test"}}}};
  j["levels"]["inter_node"]["by_ranks_per_node"] = {{"1", {{"all_reduce", one_a_node}}},
                                                    {"8", {{"all_reduce", eight_a_node}}}};
  const HwProfile by_rpn = parse_hw_profile(j, "test");
  auto term_on = [&](const ParallelLayout& l) {
    for (const auto& t : predict_step(c, l, Cluster{2, 8}, by_rpn).comm)
      if (t.what == "ddp all_reduce") return t;
    FAIL("no ddp all_reduce term");
    return CommTerm{};
  };
  CollectiveFit f1 = f, f8 = f;
  f1.bus_bandwidth = 20e9, f8.bus_bandwidth = 60e9;
  const CommTerm strided = term_on(bf16_layout(2, 8, 1));
  CHECK(strided.one_s == Approx(collective_seconds(f1, Coll::kAllReduce, 8 * strided.one_bytes, 2)));
  const CommTerm whole = term_on(bf16_layout(16, 1, 1));
  CHECK(whole.one_s == Approx(collective_seconds(f8, Coll::kAllReduce, whole.one_bytes, 16)));
}

TEST_CASE("GEMMs run at the profile's rate for their size") {
  nlohmann::json j = test_profile();
  // Measured: 100 TFLOP/s at n = 512, 800 at n = 8192.
  j["device"]["gemm_flops_by_size"] = {
      {"dtype", "bf16"},
      {"points", {{{"size", 512}, {"value", 100e12}}, {{"size", 8192}, {"value", 800e12}}}},
      {"source", {{"calibrated", "test"}}}};
  const HwProfile curve = parse_hw_profile(j, "test");
  REQUIRE(curve.gemm_by_size.has_value());
  const GemmCurve& g = *curve.gemm_by_size;
  CHECK(g.rate(512, 512, 512) == Approx(100e12));
  // On log scales: 16x the size gives 8x the rate, so 4x the size gives 8^(1/2) = 2.83x.
  CHECK(g.rate(2048, 2048, 2048) == Approx(100e12 * std::sqrt(8.0)));
  CHECK(g.rate(1024, 2048, 4096) == Approx(g.rate(2048, 2048, 2048)));  // by cbrt(m n k)
  CHECK(g.rate(16, 16, 16) == Approx(100e12));                          // the ends held
  CHECK(g.rate(65536, 8192, 8192) == Approx(800e12));
  // Against one rate for every size (1 PFLOP/s here): a small model's GEMMs slow down far more
  // than a large one's.
  const HwProfile flat = parse_hw_profile(test_profile(), "test");
  auto slowdown = [&](const ModelConfig& c) {
    const ParallelLayout l = bf16_layout(1, 1, 1);
    return predict_step(c, l, Cluster{1, 1}, curve).gemm_s / predict_step(c, l, Cluster{1, 1}, flat).gemm_s;
  };
  ModelConfig small = find_model("llama3_1_8b");
  small.hidden = 512, small.heads = 8, small.kv_heads = 8, small.ffn = 1024, small.layers = 2;
  const double small_slowdown = slowdown(small), large_slowdown = slowdown(find_model("llama3_1_70b"));
  CHECK(small_slowdown > large_slowdown);
  CHECK(large_slowdown > 1.0);
  CHECK(small_slowdown < 1e15 / 100e12 + 1e-9);  // never slower than the slowest point
  // Sizes out of order are refused, naming the field.
  j["device"]["gemm_flops_by_size"]["points"] = {{{"size", 8192}, {"value", 800e12}}, {{"size", 512}, {"value", 1e12}}};
  CHECK(usage_error([&] { parse_hw_profile(j, "test"); }).find("device.gemm_flops_by_size.points") !=
        std::string::npos);
}

TEST_CASE("the pipeline bubble is the schedule's own count") {
  // 1F1B: (stages - 1) forward-backward pairs of idle time, whatever the micro-batches.
  for (int64_t stages : {2, 3, 4})
    for (int64_t micro : {stages, 2 * stages, int64_t{8}}) {
      const std::vector<double> f(stages, 1.0), b(stages, 2.0);
      const double makespan = pipeline_makespan(1, micro, f, b, 0);
      CHECK(makespan - micro * 3.0 == Approx((stages - 1) * 3.0));
      // Each transfer on the critical path adds: at least the warm-up's and drain's.
      CHECK(pipeline_makespan(1, micro, f, b, 0.1) >= makespan + 2 * (stages - 1) * 0.1 - 1e-12);
    }
  // Interleaved: the timetable's ticks, each as long as the busiest stage's chunk work.
  for (int64_t stages : {2, 4})
    for (int64_t chunks : {2, 3}) {
      const int64_t micro = 2 * stages;
      const auto table = interleaved_timetable(stages, chunks, micro);
      double expect = 0;
      for (std::size_t k = 0; k < table[0].size(); ++k) {
        bool any_f = false, any_b = false;
        for (int64_t s = 0; s < stages; ++s) any_f |= table[s][k].forward.some(), any_b |= table[s][k].backward.some();
        expect += (any_f ? 1.0 / chunks : 0) + (any_b ? 2.0 / chunks : 0);
      }
      const std::vector<double> f(stages, 1.0), b(stages, 2.0);
      CHECK(pipeline_makespan(chunks, micro, f, b, 0) == Approx(expect));
      // Interleaving shrinks the bubble below 1F1B's.
      CHECK(pipeline_makespan(chunks, micro, f, b, 0) < pipeline_makespan(1, micro, f, b, 0));
    }
  // predict_step reports that bubble: makespan less the busiest stage's own work.
  const HwProfile p = parse_hw_profile(test_profile(), "test");
  ParallelLayout l = bf16_layout(1, 1, 4);
  const Prediction pr = predict_step(find_model("llama3_1_8b"), l, Cluster{1, 4}, p);
  CHECK(pr.bubble_s > 0);
  CHECK(pr.step_s ==
        Approx(pr.compute_s + pr.exposed_comm_s + pr.bubble_s + pr.optimizer_s + pr.overlap_s).epsilon(1e-6));
}

TEST_CASE("the step splits into compute, exposed communication, bubble and optimizer") {
  const HwProfile p = parse_hw_profile(test_profile(), "test");
  const ModelConfig c = find_model("llama3_1_8b");
  ParallelLayout fsdp = bf16_layout(8, 1, 1);
  fsdp.shard_params = true;
  for (const ParallelLayout& l : {fsdp, bf16_layout(8, 1, 1), bf16_layout(2, 4, 1), bf16_layout(1, 2, 4)}) {
    const Prediction pr = predict_step(c, l, Cluster{1, 8}, p);
    CHECK(pr.step_s ==
          Approx(pr.compute_s + pr.exposed_comm_s + pr.bubble_s + pr.optimizer_s + pr.overlap_s).epsilon(1e-6));
    for (const auto& t : pr.comm) CHECK(t.exposed_s <= t.total_s * (1 + 1e-9) + 1e-12);
    CHECK(pr.tokens_per_s == Approx(8.0 * 4096 * 8 / static_cast<double>(l.tp * l.pp) / pr.step_s));
  }
}

TEST_CASE("layouts that cannot exist are refused in one line") {
  const HwProfile p = parse_hw_profile(test_profile(), "test");
  auto why = [&](const std::string& model, ParallelLayout l) {
    return usage_error([&] { predict_step(find_model(model), l, Cluster{1, l.dp * l.tp * l.pp}, p); });
  };
  CHECK(why("llama3_1_8b", bf16_layout(1, 3, 1)).find("--tp 3: must divide the 32 attention heads") !=
        std::string::npos);
  CHECK(why("tiny", bf16_layout(1, 1, 64)).find("--pp 64: must divide the") != std::string::npos);
  ParallelLayout ep = bf16_layout(3, 1, 1);
  ep.ep = 3;
  CHECK(why("mixtral_8x7b", ep).find("--ep 3: must divide the 8 experts") != std::string::npos);
  ParallelLayout fsdp_tp = bf16_layout(4, 2, 1);
  fsdp_tp.shard_params = true;
  CHECK(why("llama3_1_8b", fsdp_tp).find("one-dimensional") != std::string::npos);
  CHECK(usage_error([&] {
          predict_step(find_model("tiny"), bf16_layout(4, 1, 1), Cluster{1, 2}, p);
        }).find("make them equal") != std::string::npos);
}

TEST_CASE("shipped profiles are sourced, and the p5 fit is its points' own") {
  const auto names = shipped_profile_names();
  REQUIRE(names.size() >= 5);
  for (const auto& n : names) {
    const HwProfile p = load_hw_profile(n);
    CHECK(p.kind == "gpu");
    CHECK(p.devices_per_node == 8);
    CHECK(p.gemm_bf16.has_value());
    CHECK(!p.gemm_efficiency.has_value());  // no guess at what the code achieves
  }
  const HwProfile p5 = load_hw_profile("p5.48xlarge");
  const CollectiveFit& f = p5.inter_node.collectives.at(Coll::kAllReduce);
  REQUIRE(f.points.size() == 8);
  std::vector<CostPoint> pts;
  for (const auto& q : f.points) pts.push_back({q["bytes"], q["ranks"], q["time_s"]});
  const CollectiveFit again = fit_collective(Coll::kAllReduce, pts, f.source);
  CHECK(again.latency_s == Approx(f.latency_s).epsilon(1e-9));
  CHECK(again.bus_bandwidth == Approx(f.bus_bandwidth).epsilon(1e-9));
  CHECK(again.residual_rms == Approx(f.residual_rms).epsilon(1e-9));
  // The AWS rows it was fitted to: 487.09 GB/s busbw at 16 GiB on 16 ranks.
  CHECK(f.points[7]["bytes"].get<double>() == 17179869184.0);
  CHECK(f.points[7]["time_s"].get<double>() == Approx(66132e-6));
}

TEST_CASE("a profile with a missing, negative or unsourced figure is refused, naming it") {
  auto why = [](const nlohmann::json& j) { return usage_error([&] { parse_hw_profile(j, "bad.json"); }); };
  nlohmann::json j = test_profile();
  j["device"].erase("mem_bandwidth");
  CHECK(why(j).find("device.mem_bandwidth is missing") != std::string::npos);
  j = test_profile();
  j["device"]["mem_capacity"]["value"] = -1;
  CHECK(why(j).find("device.mem_capacity is -1: it must be above 0") != std::string::npos);
  j = test_profile();
  j["device"]["gemm_flops"]["bf16"].erase("source");
  CHECK(why(j).find("device.gemm_flops.bf16 has no source") != std::string::npos);
  j = test_profile();
  j["levels"]["inter_node"]["collectives"]["all_reduce"]["bus_bandwidth"] = 0;
  CHECK(why(j).find("bus_bandwidth is 0") != std::string::npos);
  j = test_profile();
  j["schema"] = "dtbench.hw_profile/v2";
  CHECK(why(j).find("schema must be") != std::string::npos);
  CHECK(usage_error([] { load_hw_profile("p9.huge"); }).find("no shipped profile of that name") != std::string::npos);
  // A figure the layout needs but nobody sourced: null, and the prediction says so.
  j = test_profile();
  j["device"]["gemm_flops"]["bf16"] = nullptr;
  const HwProfile p = parse_hw_profile(j, "test");
  CHECK(usage_error([&] {
          predict_step(find_model("tiny"), bf16_layout(1, 1, 1), Cluster{1, 1}, p);
        }).find("no bf16 GEMM rate") != std::string::npos);
}

TEST_CASE("calibration fits this machine's records and refuses another machine's") {
  char tmpl[] = "/tmp/dtbench_predict_XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  std::vector<std::string> made;
  auto record = [&](const std::string& name, const std::string& host, const std::string& cpu, int64_t ranks,
                    double latency, double busbw) {
    nlohmann::json rows = nlohmann::json::array();
    for (double bytes = 1024; bytes <= 64 << 20; bytes *= 4) {
      const double n = static_cast<double>(ranks);
      const double t = latency * 2 * (n - 1) + bytes * 2 * (n - 1) / n / busbw;
      rows.push_back({{"size_bytes", bytes}, {"out_of_place", {{"time_us", t * 1e6}}}});
    }
    const nlohmann::json r = {
        {"schema", "dtbench.result/v1"},
        {"benchmark", "collectives_perf"},
        {"status", "ok"},
        {"config", {{"op", "all_reduce"}}},
        {"launch", {{"world_size", ranks}, {"nodes", 1}, {"local_world_size", ranks}, {"backend", "mpi"}}},
        {"system", {{"hosts", {host}}, {"cpu", {{"model", cpu}, {"cores", 2}}}}},
        {"rows", rows}};
    std::string path = dir + "/" + name;
    std::ofstream(path) << r.dump();
    made.push_back(path);
    return path;
  };
  const auto a = record("a.json", "vm", "Xeon", 2, 20e-6, 2e9);
  const auto b = record("b.json", "vm", "Xeon", 4, 20e-6, 2e9);
  const HwProfile p = calibrate_profile({a, b}, "mine", std::nullopt);
  REQUIRE(p.host.has_value());
  CHECK(p.host->hostnames == std::vector<std::string>{"vm"});
  CHECK(p.kind == "cpu");
  const CollectiveFit& f = p.intra_node.collectives.at(Coll::kAllReduce);
  CHECK(f.latency_s == Approx(20e-6).epsilon(1e-6));
  CHECK(f.bus_bandwidth == Approx(2e9).epsilon(1e-6));
  // The probe's GEMM rate by size becomes the profile's, per core.
  const nlohmann::json env = {
      {"schema", "dtbench.result/v1"},
      {"benchmark", "env_check"},
      {"status", "ok"},
      {"config", nlohmann::json::object()},
      {"system", {{"hosts", {"vm"}}, {"cpu", {{"model", "Xeon"}, {"cores", 2}}}}},
      {"sweep",
       {{"median",
         {{"gemm_gflops", 40},
          {"mem_gbps", 10},
          {"gemm_gflops_by_size", {{{"size", 64}, {"gflops", 10}}, {{"size", 512}, {"gflops", 40}}}}}}}}};
  const std::string env_path = dir + "/env.json";
  std::ofstream(env_path) << env.dump();
  made.push_back(env_path);
  const HwProfile q = calibrate_profile({a, b, env_path}, "mine", std::nullopt);
  REQUIRE(q.gemm_by_size.has_value());
  CHECK(q.gemm_by_size->dtype == "fp32");
  const std::vector<GemmPoint> per_core = {{64, 5e9}, {512, 20e9}};
  CHECK((q.gemm_by_size->points == per_core));
  CHECK((parse_hw_profile(to_json(q), "written back").gemm_by_size->points == per_core));
  // Another CPU model, or (refining this profile) another host: refused, naming both.
  const auto other = record("c.json", "vm", "EPYC", 2, 20e-6, 2e9);
  CHECK(usage_error([&] {
          calibrate_profile({a, other}, "mine", std::nullopt);
        }).find("was measured on vm (EPYC, 2 cores), not on vm (Xeon, 2 cores)") != std::string::npos);
  const auto elsewhere = record("d.json", "node7", "Xeon", 2, 20e-6, 2e9);
  CHECK(usage_error([&] { calibrate_profile({elsewhere}, "mine", p); }).find("on host node7, which profile mine") !=
        std::string::npos);
  CHECK(usage_error([&] {
          calibrate_profile({a}, "mine", load_hw_profile("p5.48xlarge"));
        }).find("a shipped profile describes no measured host") != std::string::npos);
  for (const auto& f : made) std::remove(f.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("the search ranks layouts that fit and says why the others do not") {
  const HwProfile p = load_hw_profile("p5.48xlarge");
  const SearchResult s = search_layouts(find_model("llama3_1_70b"), SearchSpace{.nodes = 8, .seq = 4096}, p);
  REQUIRE(!s.ranked.empty());
  for (std::size_t i = 1; i < s.ranked.size(); ++i)
    CHECK(s.ranked[i - 1].prediction.tokens_per_s >= s.ranked[i].prediction.tokens_per_s);
  for (const auto& c : s.ranked) CHECK(static_cast<double>(c.prediction.peak_mem_bytes) <= 80e9);
  bool memory = false;
  for (const auto& [why, n] : s.rejected) memory |= why.find("peak memory above") != std::string::npos && n > 0;
  CHECK(memory);  // 70B replicated on every GPU does not fit in 80 GB
}
