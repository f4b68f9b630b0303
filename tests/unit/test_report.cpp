#include <catch2/catch.hpp>
#include <unistd.h>

#include <dirent.h>
#include <fstream>

#include "core/report/checksum.h"
#include "core/report/errors.h"
#include "core/report/files.h"
#include "core/report/recorded_env.h"
#include "core/report/result.h"
#include "core/report/stats.h"

using namespace dtbench;

TEST_CASE("CRC-32C matches the standard check value and composes") {
  const std::string s = "123456789";
  CHECK(dtbench::crc32c(s.data(), s.size()) == 0xE3069283u);  // RFC 3720's check value
  CHECK(dtbench::crc32c(s.data() + 4, 5, dtbench::crc32c(s.data(), 4)) == 0xE3069283u);
  std::string big(1000, 'a');
  const uint32_t whole = dtbench::crc32c(big.data(), big.size());
  big[517] ^= 1;
  CHECK(dtbench::crc32c(big.data(), big.size()) != whole);
}

TEST_CASE("percentiles interpolate between ranks") {
  std::vector<double> v{4, 1, 3, 2, 5};
  CHECK(percentile(v, 0.5) == Approx(3));
  CHECK(percentile(v, 0.1) == Approx(1.4));
  CHECK(percentile(v, 0.9) == Approx(4.6));
  auto s = summarize(v);
  CHECK(s.n == 5);
  CHECK(s.mean == Approx(3));
  CHECK(s.min == 1);
  CHECK(s.max == 5);
  CHECK(summarize({}).n == 0);
}

TEST_CASE("records are written whole, with every schema key") {
  const std::string dir = "/tmp/dtbench-test-" + std::to_string(::getpid());
  remove_tree(dir);
  auto rec = new_result_record("unit");
  for (const char* key : {"schema", "benchmark", "status", "error", "started_at", "duration_s", "git_sha", "config",
                          "launch", "system", "metrics", "steps", "rows", "per_rank"})
    CHECK(rec.contains(key));
  CHECK(rec["schema"] == "dtbench.result/v1");
  const std::string path = dir + "/sub/r.json";
  write_json_atomic(path, rec);
  std::ifstream in(path);
  auto back = nlohmann::json::parse(in);
  CHECK(back["benchmark"] == "unit");
  int files = 0;
  DIR* d = opendir((dir + "/sub").c_str());
  while (auto* e = readdir(d)) files += e->d_name[0] != '.';
  closedir(d);
  CHECK(files == 1);  // no temp file left
  CHECK_THROWS_AS(write_json_atomic("/proc/dtbench-cannot/x.json", rec), RuntimeFailure);
  remove_tree(dir);
}

TEST_CASE("records keep values only for the allowlisted variables") {
  const nlohmann::json e = recorded_environment({{"NCCL_ALGO", "Ring"},
                                                 {"NCCL_IB_PASSWD", "hunter2"},
                                                 {"FI_EFA_CREDS", "abc"},
                                                 {"FI_PROVIDER", "efa"},
                                                 {"nccl_token", "xyz"},
                                                 {"Fi_Efa_Key", "k"},
                                                 {"CUDA_VISIBLE_DEVICES", "0,1"},
                                                 {"OFI_NCCL_PROTOCOL", "RDMA"},
                                                 {"AWS_SECRET_ACCESS_KEY", "s"},
                                                 {"HOME", "/root"}});
  CHECK(e["NCCL_ALGO"] == "Ring");
  CHECK(e["FI_PROVIDER"] == "efa");
  CHECK(e["CUDA_VISIBLE_DEVICES"] == "0,1");
  CHECK(e["OFI_NCCL_PROTOCOL"] == "RDMA");
  for (const char* hidden : {"NCCL_IB_PASSWD", "FI_EFA_CREDS", "nccl_token", "Fi_Efa_Key"}) {
    INFO(hidden);
    CHECK(e[hidden] == "<not recorded>");
  }
  CHECK_FALSE(e.contains("AWS_SECRET_ACCESS_KEY"));  // not under a recorded prefix: not named
  CHECK_FALSE(e.contains("HOME"));
  CHECK(e.dump().find("hunter2") == std::string::npos);
  for (const auto& name : recorded_variables()) {
    INFO(name);
    for (const char* word : {"PASS", "SECRET", "TOKEN", "KEY", "CRED"}) CHECK(name.find(word) == std::string::npos);
  }
}
